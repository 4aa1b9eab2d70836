#!/usr/bin/env python3
"""ONNX import of scikit-learn MLPClassifier graphs as skl2onnx exports them: built here with
onnx.helper node for node as skl2onnx's converter writes them (skl2onnx itself is no Debian
package): Cast of the input; per layer MatMul(coefficient [n_in, n_out]) + Add(intercepts [1, n_out])
and the activation (Relu, Tanh, Sigmoid for 'logistic', Identity); Softmax or Sigmoid at the end;
probabilities = Identity(p), or Concat(1 − p, p) for two classes; labels = ArgMax →
ArrayFeatureExtractor(classes) → Reshape(−1) [→ Cast to INT64], or Binarizer → Cast for multi-label;
with the zipmap option, Identity to output_label and ZipMap to output_probability.
`mlpkit predict` must give the probabilities (for two classes: p, the probability of classes_[1])
computed here in float64 from the same float32 numbers, within 1e-6·max(1, |p|) (1e-12 in double);
graphs whose two outputs are no such pair are refused with one line and exit status 2.
Usage: sklearn_onnx_tests.py <mlpkit binary> <scratch dir> [--corpus DIR: also write the graphs there].
Exit status 77 means skipped (CTest SKIP_RETURN_CODE): the onnx or numpy module is not installed."""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the import below
from cli_tests import SKIP, check, run, script_arguments  # noqa: E402
try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # python3-onnx / python3-numpy absent
    print(f"SKIPPED: the scikit-learn ONNX import test needs onnx and numpy ({e})")
    sys.exit(SKIP)

ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid", "identity": "Identity"}
FORWARD = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "logistic": lambda z: 1 / (1 + np.exp(-z)),
           "identity": lambda z: z}


class Names:
    """Unique names as skl2onnx's scope makes them: 'coefficient', 'coefficient1', …"""

    def __init__(self):
        self.used = {}

    def __call__(self, base):
        n = self.used.get(base, 0)
        self.used[base] = n + 1
        return base if n == 0 else f"{base}{n}"


def zipmap_type(string_classes):
    value = onnx.TypeProto()
    value.map_type.key_type = TensorProto.STRING if string_classes else TensorProto.INT64
    value.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    return helper.make_sequence_type_proto(value)


def forward_nodes(names, nodes, inits, layers, activation, out_activation, proto, x):
    """The network as skl2onnx's _forward_pass writes it; returns the name of its output."""
    act = x
    for i, (w, b) in enumerate(layers):
        coefficient, intercepts = names("coefficient"), names("intercepts")
        mul, add = names("mul_result"), names("add_result")
        inits += [numpy_helper.from_array(w.astype(proto), coefficient),
                  numpy_helper.from_array(b.reshape(1, -1).astype(proto), intercepts)]
        nodes.append(helper.make_node("MatMul", [act, coefficient], [mul], name=names("MatMul")))
        nodes.append(helper.make_node("Add", [mul, intercepts], [add], name=names("Add")))
        if i + 1 < len(layers):
            act = names("next_activations")
            op = ACTIVATIONS[activation]
            nodes.append(helper.make_node(op, [add], [act], name=names(op)))
    out = names("out_activations_result")
    nodes.append(helper.make_node(out_activation, [add], [out], name=names(ACTIVATIONS[activation])))
    return out


def classifier_graph(case, layers, classes):
    """An MLPClassifier graph as skl2onnx converts it (see the module comment)."""
    names, nodes, inits = Names(), [], []
    proto = np.float64 if case["double"] else np.float32
    elem = TensorProto.DOUBLE if case["double"] else TensorProto.FLOAT
    cast_input = names("cast_input")
    nodes.append(helper.make_node("Cast", ["X"], [cast_input], name=names("Cast"), to=elem))
    out_activation = "Sigmoid" if len(classes) == 2 or case.get("multilabel") else "Softmax"
    y = forward_nodes(names, nodes, inits, layers, case["activation"], out_activation, proto, cast_input)
    zipmap = case["zipmap"]
    label, probabilities = ("label", "probabilities") if zipmap else ("output_label", "output_probability")
    if len(classes) == 2:
        unity, negative = names("unity"), names("negative_class_proba")
        inits.append(numpy_helper.from_array(np.array(1, dtype=proto), unity))
        nodes.append(helper.make_node("Sub", [unity, y], [negative], name=names("Sub")))
        nodes.append(helper.make_node("Concat", [negative, y], [probabilities], name=names("Concat"), axis=1))
    else:
        nodes.append(helper.make_node("Identity", [y], [probabilities], name=names("Identity")))
    strings = classes.dtype.kind == "U"
    if case.get("multilabel"):
        binarized = names("binariser_output")
        nodes.append(helper.make_node("Binarizer", [y], [binarized], name=names("Binarizer"), threshold=0.5, domain="ai.onnx.ml"))
        nodes.append(helper.make_node("Cast", [binarized], [label], name=names("Cast"), to=TensorProto.INT64))
    else:
        classes_name, argmax, extracted = names("classes"), names("argmax_output"), names("array_feature_extractor_result")
        stored = np.array([s.encode() for s in classes], dtype=object) if strings else classes.astype(np.int32)
        inits.append(numpy_helper.from_array(stored, classes_name) if not strings else
                     helper.make_tensor(classes_name, TensorProto.STRING, [len(classes)], list(stored)))
        nodes.append(helper.make_node("ArgMax", [probabilities], [argmax], name=names("ArgMax"), axis=1))
        nodes.append(helper.make_node("ArrayFeatureExtractor", [classes_name, argmax], [extracted],
                                      name=names("ArrayFeatureExtractor"), domain="ai.onnx.ml"))
        shape = names("shape_tensor")
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), shape))
        reshaped = label if strings else names("reshaped_result")
        nodes.append(helper.make_node("Reshape", [extracted, shape], [reshaped], name=names("Reshape")))
        if not strings:
            nodes.append(helper.make_node("Cast", [reshaped], [label], name=names("Cast"), to=TensorProto.INT64))
    label_type = TensorProto.STRING if strings else TensorProto.INT64
    if zipmap:
        nodes.append(helper.make_node("Identity", [label], ["output_label"], name=names("Identity")))
        keys = {"classlabels_strings": list(classes)} if strings else {"classlabels_int64s": [int(c) for c in classes]}
        nodes.append(helper.make_node("ZipMap", [probabilities], ["output_probability"], name=names("ZipMap"),
                                      domain="ai.onnx.ml", **keys))
        outputs = [helper.make_tensor_value_info("output_label", label_type, [None]),
                   helper.make_value_info("output_probability", zipmap_type(strings))]
    else:
        width = 2 if len(classes) == 2 else len(classes)
        outputs = [helper.make_tensor_value_info("output_label", label_type, [None] if not case.get("multilabel") else [None, width]),
                   helper.make_tensor_value_info("output_probability", elem, [None, width])]
    inputs = [helper.make_tensor_value_info("X", elem, [None, layers[0][0].shape[0]])]
    graph = helper.make_graph(nodes, "mlp_classifier", inputs, outputs, inits)
    opsets = [helper.make_opsetid("", case["opset"]), helper.make_opsetid("ai.onnx.ml", 1)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="skl2onnx")


def probabilities(case, layers, x):
    """What the imported network must compute, in float64 from the stored numbers."""
    a = x.astype(np.float64)
    for i, (w, b) in enumerate(layers):
        z = a @ w.astype(np.float64) + b.astype(np.float64)
        a = FORWARD[case["activation"]](z) if i + 1 < len(layers) else z
    if a.shape[1] == 1 or case.get("multilabel"):
        return 1 / (1 + np.exp(-a))
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


CASES = [  # name, hidden sizes, activation, classes, zipmap, opset, double, multi-label
    dict(name="relu_3_classes_zipmap", hidden=(16, 8), activation="relu", classes=np.array([0, 1, 2]), zipmap=True, opset=15,
         double=False, loss="cross_entropy"),
    dict(name="tanh_string_classes", hidden=(10,), activation="tanh", classes=np.array(["cat", "dog", "eel", "fox"]), zipmap=False,
         opset=13, double=False, loss="cross_entropy"),
    dict(name="logistic_binary_zipmap", hidden=(12, 6), activation="logistic", classes=np.array([3, 7]), zipmap=True, opset=17,
         double=False, loss="binary_cross_entropy"),
    dict(name="identity_double", hidden=(5,), activation="identity", classes=np.array([1, 2, 3]), zipmap=True, opset=13,
         double=True, loss="cross_entropy"),
    dict(name="relu_multilabel", hidden=(9,), activation="relu", classes=np.array([0, 1, 2]), zipmap=False, opset=13,
         double=False, multilabel=True, loss="binary_cross_entropy"),
]


def layers_of(case, n_in, n_out, rng):
    sizes = [n_in, *case["hidden"], n_out]
    proto = np.float64 if case["double"] else np.float32
    return [((rng.standard_normal((a, b)) / np.sqrt(a)).astype(proto), (rng.standard_normal(b) * 0.1).astype(proto))
            for a, b in zip(sizes[:-1], sizes[1:])]


def test_classifiers(mlpkit, scratch, corpus):
    rng = np.random.default_rng(22)
    worst = 0.0
    for case in CASES:
        n_in, classes = 6, case["classes"]
        n_out = 1 if len(classes) == 2 else len(classes)
        layers = layers_of(case, n_in, n_out, rng)
        path = os.path.join(scratch, case["name"] + ".onnx")
        model = classifier_graph(case, layers, classes)
        onnx.checker.check_model(model)
        onnx.save(model, path)
        if corpus:
            onnx.save(model, os.path.join(corpus, "sklearn_" + case["name"] + ".onnx"))
        x = (rng.standard_normal((50, n_in)) * 2).astype(np.float64 if case["double"] else np.float32)
        csv = os.path.join(scratch, case["name"] + ".csv")
        with open(csv, "w", encoding="utf-8") as f:  # repr of the exact double: reads back to the same float
            f.write(",".join(f"f{i}" for i in range(n_in)) + "\n")
            f.writelines(",".join(repr(float(v)) for v in row) + "\n" for row in x)
        info = json.loads(run(mlpkit, "info", "--model", path, "--json").stdout)
        dims = [n_in, *case["hidden"], n_out]
        check(info["dims"] == dims and info["loss"] == case["loss"],
              f"{case['name']}: info reads dims {info['dims']} (expected {dims}), loss {info['loss']}")
        rows = json.loads(run(mlpkit, "predict", "--model", path, "--data", csv, "--json").stdout)["rows"]
        expected = probabilities(case, layers, x)
        error = max(abs(r[-n_out + k] - t[k]) / max(1.0, abs(t[k])) for r, t in zip(rows, expected) for k in range(n_out))
        tolerance = 1e-12 if case["double"] else 1e-6
        check(len(rows) == len(expected) and error <= tolerance,
              f"{case['name']}: mlpkit predict = the {'positive-class probability' if n_out == 1 else 'probabilities'} "
              f"within {error:.3g} (≤ {tolerance:g}) on {len(rows)} rows")
        if not case["double"]:
            worst = max(worst, error)
    print(f"largest float error: {worst:.3g}")


def test_bad_tails(mlpkit, scratch):
    rng = np.random.default_rng(5)
    case = dict(CASES[0])
    layers = layers_of(case, 6, 3, rng)
    csv = os.path.join(scratch, "six.csv")
    with open(csv, "w", encoding="utf-8") as f:
        f.write("a,b,c,d,e,f\n1,2,3,4,5,6\n")
    for name, old_op, new_op, command, expected in [
        # The label output through a TopK instead of ArgMax: the two outputs are no classifier pair.
        ("topk_label", "ArgMax", "TopK", "predict", "are not a classifier's labels and probabilities"),
        # Probabilities from a Relu, not a Softmax or Sigmoid.
        ("relu_probabilities", "Softmax", "Relu", "info", "expected a Softmax or a Sigmoid")]:
        model = classifier_graph(case, layers, case["classes"])
        for node in model.graph.node:
            if node.op_type == old_op:
                node.op_type = new_op
        path = os.path.join(scratch, name + ".onnx")
        onnx.save(model, path)
        data = ["--data", csv] if command == "predict" else []
        lines = run(mlpkit, command, "--model", path, *data, expect=2).stderr.strip().splitlines()
        check(len(lines) == 1 and expected in lines[0] and path in lines[0], f"{name}: exit 2, one line: {lines[:1]}")


if __name__ == "__main__":
    mlpkit, scratch, corpus = script_arguments()
    test_classifiers(mlpkit, scratch, corpus)
    test_bad_tails(mlpkit, scratch)
