#!/usr/bin/env python3
"""An independent writer and reader of mlpkit model files (safetensors layout), using only json and
struct: a file written here loads in `mlpkit predict` and predicts what a forward pass computed here
predicts; a file `mlpkit train` writes is read back here and predicts what `mlpkit predict` prints.
Usage: model_files.py <mlpkit binary> <scratch dir>"""
import json
import math
import os
import struct
import subprocess
import sys


def run(*args):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"`{' '.join(args)}` exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)
    print("ok:", message)


FORMATS = {"F32": "f", "F64": "d"}


def write_model(path, dims, hidden, weights, biases, dtype, statistics=None):
    """weights[l]: n[l+1] rows of n[l] values; biases[l]: n[l+1] values; statistics: (mean, variance, eps, count)."""
    tensors, data = {}, b""

    def add(name, values, shape, tensor_dtype):
        nonlocal data
        raw = struct.pack("<%d%s" % (len(values), FORMATS[tensor_dtype]), *values)
        tensors[name] = {"dtype": tensor_dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw

    for l, (w, b) in enumerate(zip(weights, biases), start=1):
        add(f"W{l}", [v for row in w for v in row], [len(w), len(w[0])], dtype)
        add(f"b{l}", b, [len(b)], dtype)  # 1-D, as PyTorch stores a bias
    # Only the architecture: the training-only fields (init, l2, keep_prob, seed, …) are optional.
    metadata = {"format": "mlpkit.model", "format_version": "1", "dims": ",".join(map(str, dims)), "hidden": hidden,
                "output": "identity", "loss": "mean_squared_error"}
    if statistics:
        mean, variance, eps, count = statistics
        metadata.update({"inputs": "standardizer", "inputs.epsilon": repr(eps), "inputs.count": str(count)})
        add("inputs.mean", mean, [len(mean)], "F64")
        add("inputs.variance", variance, [len(variance)], "F64")
    header = json.dumps({"__metadata__": metadata, **tensors}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def read_model(path):
    """(metadata, {name: (shape, values)}) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + length])
    metadata = header.pop("__metadata__")
    tensors, end = {}, 0
    for name, t in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, stop = t["data_offsets"]
        check(begin == end, f"{name} starts where the previous tensor ends")
        count = math.prod(t["shape"])
        values = struct.unpack_from("<%d%s" % (count, FORMATS[t["dtype"]]), blob, 8 + length + begin)
        check(stop - begin == count * struct.calcsize(FORMATS[t["dtype"]]), f"{name}: data_offsets fit shape and dtype")
        tensors[name] = (t["shape"], list(values))
        end = stop
    check(8 + length + end == len(blob), "the tensors fill the file")
    return metadata, tensors


ACTIVATIONS = {"relu": lambda z: max(z, 0.0), "tanh": math.tanh, "identity": lambda z: z,
               "sigmoid": lambda z: 1 / (1 + math.exp(-z))}


def forward(x, weights, biases, hidden, statistics=None):
    if statistics:
        mean, variance, eps = statistics
        x = [(v - m) / math.sqrt(s + eps) if s > 0 else v - m for v, m, s in zip(x, mean, variance)]
    a = x
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = [sum(wi * ai for wi, ai in zip(row, a)) + bi for row, bi in zip(w, b)]
        a = z if l == len(weights) - 1 else [ACTIVATIONS[hidden](v) for v in z]
    return a


def write_csv(path, names, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        for row in rows:
            f.write(",".join(repr(v) for v in row) + "\n")


def predict(mlpkit, model, data, scratch):
    out = os.path.join(scratch, "predictions.json")
    run(mlpkit, "predict", "--model", model, "--data", data, "--json", "--out", out)
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def close(a, b, tolerance):
    return abs(a - b) <= tolerance * max(1.0, abs(b))


def our_files_load(mlpkit, scratch):
    dims = [3, 4, 2]
    weights = [[[((7 * i + 3 * j) % 11) / 11 - 0.5 for j in range(dims[l])] for i in range(dims[l + 1])]
               for l in range(len(dims) - 1)]
    biases = [[0.125 * i - 0.25 for i in range(dims[l + 1])] for l in range(len(dims) - 1)]
    rows = [[10.0 + i, -3.0 + 0.5 * i, 100.0 * ((i * 5) % 3)] for i in range(6)]
    data = os.path.join(scratch, "inputs.csv")
    write_csv(data, ["a", "b", "c"], rows)
    statistics = ([12.0, -2.0, 90.0], [4.0, 0.25, 2500.0], 1e-8, 100)
    for dtype, tolerance in (("F64", 1e-12), ("F32", 1e-5)):
        for standardized in (False, True):
            # F32 tensors hold the values rounded to float: the reference uses the same numbers.
            rounded = (lambda v: struct.unpack("<f", struct.pack("<f", v))[0]) if dtype == "F32" else (lambda v: v)
            w = [[[rounded(v) for v in row] for row in layer] for layer in weights]
            b = [[rounded(v) for v in layer] for layer in biases]
            path = os.path.join(scratch, f"written_{dtype}_{int(standardized)}.safetensors")
            write_model(path, dims, "tanh", w, b, dtype, statistics if standardized else None)
            info = json.loads(run(mlpkit, "info", "--model", path, "--json"))
            check(info["dims"] == dims and info["dtype"] == dtype and info["standardized_inputs"] == standardized,
                  f"{dtype}, standardized {standardized}: info reads the architecture of a file written here")
            got = predict(mlpkit, path, data, scratch)
            expected = [forward(x, w, b, "tanh", statistics[:3] if standardized else None) for x in rows]
            check(got["columns"] == ["prediction_0", "prediction_1"], "two regression outputs")
            check(all(close(g, e, tolerance) for gr, er in zip(got["rows"], expected) for g, e in zip(gr, er)),
                  f"{dtype}, standardized {standardized}: predict matches a forward pass computed here to {tolerance}")


def their_files_read(mlpkit, scratch):
    rows = [[math.sin(i), 50 + 10 * math.cos(3 * i), 0.01 * i, 0.0] for i in range(80)]
    for row in rows:
        row[3] = 2 * row[0] - 0.05 * row[1] + 30 * row[2]
    data = os.path.join(scratch, "train.csv")
    write_csv(data, ["u", "v", "w", "target"], rows)
    model = os.path.join(scratch, "trained.safetensors")
    run(mlpkit, "train", "--data", data, "--target", "target", "--dims", "5", "--hidden", "tanh", "--standardize",
        "--epochs", "20", "--out", model, "--json")
    metadata, tensors = read_model(model)
    check(all(isinstance(v, str) for v in metadata.values()), "every __metadata__ value is a string")
    dims = [int(d) for d in metadata["dims"].split(",")]
    check(dims == [3, 5, 1] and metadata["hidden"] == "tanh" and metadata["inputs"] == "standardizer",
          "the metadata hold the architecture and say the inputs are standardized")
    weights = [[tensors[f"W{l}"][1][r * dims[l - 1]:(r + 1) * dims[l - 1]] for r in range(dims[l])] for l in (1, 2)]
    biases = [tensors[f"b{l}"][1] for l in (1, 2)]
    statistics = (tensors["inputs.mean"][1], tensors["inputs.variance"][1], float(metadata["inputs.epsilon"]))
    check(json.loads(metadata["user.features"]) == ["u", "v", "w"], "the feature columns travel with the model")
    got = predict(mlpkit, model, data, scratch)
    expected = [forward(row[:3], weights, biases, "tanh", statistics) for row in rows]
    check(all(close(g[0], e[0], 1e-12) for g, e in zip(got["rows"], expected)),
          "a forward pass computed here from the file's bytes matches mlpkit predict to 1e-12")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} <mlpkit> <scratch dir>")
    os.makedirs(sys.argv[2], exist_ok=True)
    our_files_load(sys.argv[1], sys.argv[2])
    their_files_read(sys.argv[1], sys.argv[2])
