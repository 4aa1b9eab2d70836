#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_onnx (tests/fuzz/corpus/onnx): small networks exported by torch.onnx.export,
each followed by the byte the harness reads as its options. Usage: make_onnx_seeds.py tests/fuzz/corpus/onnx
(The sklearn_* seeds are MLPClassifier graphs of tests/cli/sklearn_onnx_tests.py's classifier_graph, 3 inputs,
one hidden layer of 4 or 3 units, with the options byte 8.)"""
import io, sys, torch
nn = torch.nn
torch.manual_seed(5)
out = sys.argv[1]
class MM(nn.Module):
    def __init__(s, a, b):
        super().__init__(); s.w = nn.Parameter(torch.randn(a, b)); s.b = nn.Parameter(torch.randn(b))
    def forward(s, x): return x @ s.w + s.b
nets = [("relu_softmax_f32", nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(dim=1)), torch.float32, 13, 0),
        ("gelu_erf_f32", nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)), torch.float32, 17, 0),
        ("gelu_tanh_f32", nn.Sequential(nn.Linear(2, 3), nn.GELU(approximate="tanh"), nn.Linear(3, 2)), torch.float32, 13, 0),
        ("leaky_sigmoid_f32", nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1, bias=False), nn.Sigmoid()), torch.float32, 11, 0),
        ("tanh_matmul_f32", nn.Sequential(MM(3, 4), nn.Tanh(), MM(4, 2)), torch.float32, 13, 0),
        ("sigmoid_f64", nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.Softmax(dim=1)), torch.float64, 13, 0),
        ("sigmoid_f64_into_float_converted", nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1)), torch.float64, 13, 2 | 8)]
for name, net, dtype, opset, flags in nets:
    net = net.to(dtype).eval()
    n_in = net[0].in_features if isinstance(net[0], nn.Linear) else net[0].w.shape[0]
    buf = io.BytesIO()
    torch.onnx.export(net, torch.zeros(1, n_in, dtype=dtype), buf, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset)
    # The harness reads the last byte as its options (1 allow_nonfinite, 2 convert_precision, 4 through a file, 8 float).
    if dtype == torch.float32: flags |= 8
    open(f"{out}/{name}", "wb").write(buf.getvalue() + bytes([flags]))
