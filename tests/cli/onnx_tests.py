#!/usr/bin/env python3
"""ONNX import end to end: networks built in PyTorch, exported with torch.onnx.export, run by
`mlpkit predict --model FILE.onnx` and compared with PyTorch's own output on the same inputs
(float: within 1e-6·max(1, |y|); double: 1e-12); `mlpkit info --model FILE.onnx`; bad graphs built
with onnx.helper are refused with one line naming the node and exit status 2.
Usage: onnx_tests.py <mlpkit binary> <scratch dir> [--corpus DIR: also write small seed files there].
Exit status 77 means skipped (CTest SKIP_RETURN_CODE): PyTorch or onnx is not installed."""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the import below
from cli_tests import SKIP, check, run, script_arguments  # noqa: E402
try:
    import torch
    import onnx
    from onnx import TensorProto, helper
except ImportError as e:  # python3-torch / python3-onnx absent
    print(f"SKIPPED: the ONNX cross-check needs PyTorch and onnx ({e})")
    sys.exit(SKIP)


class AffineMatMul(torch.nn.Module):
    """x @ W + b: exported as MatMul + Add (not Gemm)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(n_in, n_out) / n_in ** 0.5)
        self.b = torch.nn.Parameter(torch.randn(n_out) * 0.1)

    def forward(self, x):
        return x @ self.w + self.b


def cases():
    nn = torch.nn
    torch.manual_seed(22)
    return [  # name, network, opset, dtype, (hidden, output, loss)
        ("relu_softmax", nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4), nn.Softmax(dim=1)),
         13, torch.float32, ("relu", "identity", "cross_entropy")),
        ("gelu_erf", nn.Sequential(nn.Linear(5, 12), nn.GELU(), nn.Linear(12, 3)), 17, torch.float32,
         ("gelu", "identity", "mean_squared_error")),
        ("gelu_tanh", nn.Sequential(nn.Linear(5, 12), nn.GELU(approximate="tanh"), nn.Linear(12, 2), nn.Softmax(dim=-1)), 13,
         torch.float32, ("gelu_tanh", "identity", "cross_entropy")),
        ("leaky_sigmoid", nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1, bias=False), nn.Sigmoid()), 11,
         torch.float32, ("leaky_relu", "sigmoid", "binary_cross_entropy")),
        ("tanh_matmul", nn.Sequential(AffineMatMul(7, 9), nn.Tanh(), AffineMatMul(9, 9), nn.Tanh(), AffineMatMul(9, 2)), 13,
         torch.float32, ("tanh", "identity", "mean_squared_error")),
        ("sigmoid_double", nn.Sequential(nn.Linear(3, 10), nn.Sigmoid(), nn.Linear(10, 2), nn.Softmax(dim=1)), 13, torch.float64,
         ("sigmoid", "identity", "cross_entropy")),
    ]


def export(net, dtype, opset, path, n_in):
    net = net.to(dtype).eval()
    torch.onnx.export(net, torch.zeros(2, n_in, dtype=dtype), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset)


def first_in(net):
    first = net[0]
    return first.in_features if isinstance(first, torch.nn.Linear) else first.w.shape[0]


def test_cross_check(mlpkit, scratch, corpus):
    worst = 0.0
    for name, net, opset, dtype, (hidden, output, loss) in cases():
        n_in = first_in(net)
        path = os.path.join(scratch, name + ".onnx")
        export(net, dtype, opset, path, n_in)
        if corpus:
            with open(path, "rb") as f, open(os.path.join(corpus, name + ".onnx"), "wb") as g:
                g.write(f.read())
        x = torch.randn(64, n_in, dtype=torch.float32).to(dtype) * 2
        with torch.no_grad():
            y = net(x).tolist()
        csv = os.path.join(scratch, name + ".csv")
        with open(csv, "w", encoding="utf-8") as f:  # repr of the exact double: reads back to the same float
            f.write(",".join(f"f{i}" for i in range(n_in)) + "\n")
            f.writelines(",".join(repr(float(v)) for v in row) + "\n" for row in x.tolist())
        info = json.loads(run(mlpkit, "info", "--model", path, "--json").stdout)
        check((info["hidden"] if len(info["dims"]) > 2 else hidden, info["output"], info["loss"]) == (hidden, output, loss),
              f"{name}: info reads {info['dims']} {info['hidden']} / {info['output']} / {info['loss']}, "
              f"{'F64' if dtype == torch.float64 else 'F32'} = {info['dtype']}")
        rows = json.loads(run(mlpkit, "predict", "--model", path, "--data", csv, "--json").stdout)["rows"]
        n_out = len(y[0])
        error = max(abs(r[-n_out + k] - t[k]) / max(1.0, abs(t[k])) for r, t in zip(rows, y) for k in range(n_out))
        tolerance = 1e-12 if dtype == torch.float64 else 1e-6
        check(len(rows) == len(y) and error <= tolerance,
              f"{name} (opset {opset}): mlpkit predict = PyTorch within {error:.3g} (≤ {tolerance:g}) on {len(y)} rows")
        if dtype == torch.float32:
            worst = max(worst, error)
    print(f"largest float error against PyTorch: {worst:.3g}")


def bad_graph(scratch, name, nodes, initializers, in_shape=("batch", 3), out_name="y", out_shape=("batch", 2)):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(out_shape))], initializers)
    path = os.path.join(scratch, name + ".onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_bad_graphs(mlpkit, scratch):
    csv = os.path.join(scratch, "three.csv")
    with open(csv, "w", encoding="utf-8") as f:
        f.write("a,b,c\n1,2,3\n")
    w = helper.make_tensor("W", TensorProto.FLOAT, [2, 3], [0.5] * 6)
    b = helper.make_tensor("b", TensorProto.FLOAT, [2], [0.1] * 2)
    gemm = helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="fc1", transB=1)
    bad = [
        ("conv", [gemm, helper.make_node("Conv", ["z"], ["y"], name="conv1")], [w, b], "node 'conv1' (Conv)"),
        ("missing_weight", [helper.make_node("Gemm", ["x", "W"], ["y"], name="fc1", transB=1)], [],
         "node 'fc1' (Gemm) reads 'W' as a weight, but it is no initializer or Constant"),
        ("rank3", [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc1", transB=1)], [w, b],
         "input 'x' has rank 3"),
        ("softmax_axis0", [gemm, helper.make_node("Softmax", ["z"], ["y"], name="sm", axis=0)], [w, b],
         "node 'sm' (Softmax): attribute axis = 0 is not supported"),
    ]
    for name, nodes, inits, expected in bad:
        path = bad_graph(scratch, name, nodes, inits, in_shape=("batch", 3, 1) if name == "rank3" else ("batch", 3))
        result = run(mlpkit, "predict", "--model", path, "--data", csv, expect=2)
        lines = result.stderr.strip().splitlines()
        check(len(lines) == 1 and expected in lines[0] and path in lines[0], f"{name}: exit 2, one line: {lines[:1]}")
    garbage = write_garbage(scratch)
    check("not an ONNX model" in run(mlpkit, "info", "--model", garbage, expect=2).stderr, "garbage .onnx: not an ONNX model")


def write_garbage(scratch):
    path = os.path.join(scratch, "garbage.onnx")
    with open(path, "wb") as f:
        f.write(b"\xff\xff\xff\xffnot a protobuf")
    return path


if __name__ == "__main__":
    mlpkit, scratch, corpus = script_arguments()
    test_cross_check(mlpkit, scratch, corpus)
    test_bad_graphs(mlpkit, scratch)
