#!/usr/bin/env python3
"""Command-line tests of the mlpkit tool: each runs one command with small arguments and checks
its JSON (or its exit status and message). Usage: cli_tests.py <mlpkit binary> <test name> <scratch dir>
Exit status 77 means skipped (CTest SKIP_RETURN_CODE)."""
import json
import os
import struct
import subprocess
import sys

SKIP = 77


def run(mlpkit, *args, expect=0):
    result = subprocess.run([mlpkit, *args], capture_output=True, text=True, timeout=600)
    if expect is not None and result.returncode != expect:
        sys.exit(f"`mlpkit {' '.join(args)}` exited {result.returncode}, expected {expect}\n{result.stdout}\n{result.stderr}")
    return result


def run_json(mlpkit, scratch, name, *args):
    out = os.path.join(scratch, name + ".json")
    run(mlpkit, *args, "--json", "--out", out)
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)
    print("ok:", message)


def script_arguments():
    """The arguments of the ONNX scripts, <mlpkit binary> <scratch dir> [--corpus DIR], as
    (mlpkit, scratch, corpus or None); makes the scratch dir."""
    mlpkit, scratch = sys.argv[1], sys.argv[2]
    corpus = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--corpus" else None
    os.makedirs(scratch, exist_ok=True)
    return mlpkit, scratch, corpus


def test_sweep(mlpkit, scratch):
    data = run_json(mlpkit, scratch, "sweep", "sweep", "--depths", "2,12", "--width", "16", "--batch", "64",
                    "--schemes", "zeros,he", "--activations", "relu")
    for demo in data["identity_demo"]:
        c, stds = demo["c"], demo["activation_std"]
        # Hidden layers multiply by c; the last layer (W[L] = I) keeps the scale: ŷ = c^(L−1)·x.
        for l, growth in enumerate(demo["growth_per_layer"][:-1]):
            check(abs(growth / c - 1) < 0.01, f"c = {c}, depth {demo['depth']}: layer {l + 1} grows by {growth:.4f} ≈ c")
        check(abs(demo["yhat_std_over_input_std"] / demo["expected"] - 1) < 0.01,
              f"c = {c}, depth {demo['depth']}: std(ŷ)/std(x) = c^(L−1) within 1 %")
    zeros = [r for r in data["runs"] if r["init"] == "zeros"]
    check(all(max(r["activation_std"][:-1] or [0]) == 0 for r in zeros), "zeros init: every hidden activation is 0")
    he = [r for r in data["runs"] if r["init"] == "he" and r["depth"] == 12][0]
    check(0.2 < he["activation_std"][-2] < 5, "He init keeps the activation scale over 12 ReLU layers")


def test_fd_error(mlpkit, scratch):
    data = run_json(mlpkit, scratch, "fd_error", "experiment", "fd-error")
    check(abs(data["one_sided_slope"] - 1) < 0.15, f"one-sided slope {data['one_sided_slope']:.3f} ≈ 1")
    check(abs(data["two_sided_slope"] - 2) < 0.15, f"two-sided slope {data['two_sided_slope']:.3f} ≈ 2")
    check(min(data["two_sided_error"]) < min(data["one_sided_error"]), "two-sided reaches a lower error")
    check(data["two_sided_error"][-1] > min(data["two_sided_error"]) * 100, "too small an ε makes it worse (rounding)")


def test_normalization(mlpkit, scratch):
    data = run_json(mlpkit, scratch, "normalization", "experiment", "normalization", "--iterations", "400",
                    "--learning-rates", "1,0.1,0.01,0.001")
    std, raw = data["standardized"], data["raw"]
    check(std["iterations_to_target"] is not None, "standardized training reaches the target loss")
    check(raw["iterations_to_target"] is None or std["iterations_to_target"] < raw["iterations_to_target"],
          f"standardized needs fewer iterations ({std['iterations_to_target']}) than raw ({raw['iterations_to_target']})")
    check(std["test_accuracy"] > 0.9, f"standardized test accuracy {std['test_accuracy']:.3f} > 0.9")


def test_init(mlpkit, scratch):
    data = run_json(mlpkit, scratch, "init", "experiment", "init", "--depth", "3", "--width", "32", "--epochs", "4",
                    "--schemes", "zeros,he")
    zeros, he = data["schemes"]["zeros"], data["schemes"]["he"]
    check(he["loss"][-1] < zeros["loss"][-1], "He init trains; zeros stays symmetric")


def test_gradcheck(mlpkit, scratch):
    clean = run_json(mlpkit, scratch, "gradcheck_clean", "gradcheck", "--dims", "6,5,4,1", "--hidden", "tanh")
    check(clean["verdict"] == "great", "a correct network passes")
    for bug, tensor, fingerprint in [("sign", "W2", "sign_flip"), ("transpose", "W2", "transposed")]:
        result = run(mlpkit, "gradcheck", "--dims", "6,5,5,1", "--hidden", "tanh", "--inject-bug", bug,
                     "--bug-tensor", tensor, expect=1)
        check(tensor in result.stdout and fingerprint in result.stdout,
              f"--inject-bug {bug}: exit 1, names {tensor} and {fingerprint}")
    result = run(mlpkit, "gradcheck", "--dims", "6,5,4,1", "--hidden", "tanh", "--inject-bug", "l2", expect=1)
    check("missing_l2" in result.stdout, "--inject-bug l2: exit 1 with the missing-L2 fingerprint")


def test_bad_flags(mlpkit, scratch):
    cases = [
        (["gradcheck", "--dims", ""], "--dims"),
        (["gradcheck", "--dims", "4,0,1"], "--dims"),
        (["gradcheck", "--dims", "4,x,1"], "--dims"),
        (["gradcheck", "--hidden", "swish"], "--hidden"),
        (["gradcheck", "--loss", "hinge"], "--loss"),
        (["gradcheck", "--init", "orthogonal"], "--init"),
        (["gradcheck", "--keep-prob", "0"], "--keep-prob"),
        (["gradcheck", "--keep-prob", "1.5"], "--keep-prob"),
        (["info", "--out", os.path.join(scratch, "missing-dir", "x.txt")], "--out"),
    ]
    for args, flag in cases:
        result = run(mlpkit, *args, expect=2)
        lines = result.stderr.strip().splitlines()
        check(len(lines) == 1 and flag in lines[0], f"{' '.join(args)!r}: exit 2, one line naming {flag}")


def test_plots(mlpkit, scratch):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("skipped: matplotlib is not installed for", sys.executable)
        sys.exit(SKIP)
    script = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "plots", "plot_experiments.py")
    inputs = [os.path.join(scratch, name) for name in ("sweep.json", "fd_error.json")]
    run_json(mlpkit, scratch, "sweep", "sweep", "--depths", "2,4", "--width", "8", "--batch", "16")
    run_json(mlpkit, scratch, "fd_error", "experiment", "fd-error")
    subprocess.run([sys.executable, script, *inputs, "--out-dir", scratch], check=True)
    for png in ("sweep.png", "fd_error.png"):
        path = os.path.join(scratch, png)
        check(os.path.getsize(path) > 10000, f"{png} written")


def breast_cancer_csv(scratch):
    """The shipped breast-cancer data as a CSV with a header line: f0 … f29, diagnosis."""
    source = os.path.join(os.path.dirname(__file__), "..", "..", "data", "breast_cancer.csv")
    with open(source, encoding="utf-8") as f:
        rows = [line.strip() for line in f.read().splitlines()[1:] if line.strip()]
    path = os.path.join(scratch, "breast_cancer_header.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join([f"f{i}" for i in range(30)] + ["diagnosis"]) + "\n" + "\n".join(rows) + "\n")
    return path, [int(float(row.split(",")[-1])) for row in rows]


def write_rows(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n" + "\n".join(",".join(str(v) for v in row) for row in rows) + "\n")
    return path


def test_models(mlpkit, scratch):
    data, labels = breast_cancer_csv(scratch)
    model = os.path.join(scratch, "bc.safetensors")
    report = json.loads(run(mlpkit, "train", "--data", data, "--target", "diagnosis", "--dims", "16", "--standardize",
                            "--out", model, "--json").stdout)
    check(report["metric"] == "accuracy" and report["value"] > 0.9 and report["test_examples"] == 113,
          f"train: held-out accuracy {report['value']:.3f} > 0.9 on 113 of 569 rows")
    info = run_json(mlpkit, scratch, "info_model", "info", "--model", model)
    check(info["dims"] == [30, 16, 1] and info["parameters"] == 513 and info["standardized_inputs"],
          "info --model: architecture, parameter count, the statistics travel")
    check("standardized with the training statistics" in run(mlpkit, "info", "--model", model).stdout, "info --model as text")
    predicted = run_json(mlpkit, scratch, "predict", "predict", "--model", model, "--data", data)
    check(predicted["columns"] == ["diagnosis", "probability"] and len(predicted["rows"]) == 569, "predict: one row per example")
    correct = sum(int(row[0]) == label for row, label in zip(predicted["rows"], labels))
    check(correct / 569 > 0.9, f"predict on raw features applies the training statistics: accuracy {correct / 569:.3f}")
    csv_out = os.path.join(scratch, "predictions.csv")
    run(mlpkit, "predict", "--model", model, "--data", data, "--out", csv_out)
    with open(csv_out, encoding="utf-8") as f:
        lines = f.read().splitlines()
    check(lines[0] == "diagnosis,probability" and len(lines) == 570, "predict --out writes a CSV")
    check_report = run_json(mlpkit, scratch, "gradcheck_model", "gradcheck", "--model", model, "--data", data)
    check(check_report["verdict"] == "great", "gradcheck --model --data: the trained model's backpropagation is right")

    rows = [[i % 7, (i * 3) % 5, i % 2, 0] for i in range(90)]
    for row in rows:
        row[3] = 0.5 * row[0] - row[1] + 2 * row[2]
    regression = write_rows(os.path.join(scratch, "regression.csv"), "a,b,c,y", rows)
    model32 = os.path.join(scratch, "regression.safetensors")
    report = json.loads(run(mlpkit, "train", "--data", regression, "--target", "y", "--task", "regression",
                            "--dims", "8", "--dtype", "f32", "--epochs", "300", "--out", model32, "--json").stdout)
    check(report["metric"] == "rmse" and report["value"] < 0.5, f"train: regression, held-out RMSE {report['value']:.3f}")
    progress = run(mlpkit, "train", "--data", regression, "--target", "y", "--epochs", "3", "--progress-every", "0",
                   "--out", os.path.join(scratch, "progress.safetensors")).stderr.splitlines()
    check(len(progress) == 3 and all(line.startswith(f"epoch {e}/3: loss ") for e, line in zip((1, 2, 3), progress)),
          f"train: a progress line per epoch on stderr with --progress-every 0: {progress[:1]}")
    quiet = run(mlpkit, "train", "--data", regression, "--target", "y", "--epochs", "3", "--progress-every", "0", "--quiet",
                "--out", os.path.join(scratch, "progress.safetensors"))
    check(quiet.stderr == "" and "trained" in quiet.stdout, "train --quiet: no progress lines, the report still printed")
    info = run_json(mlpkit, scratch, "info_f32", "info", "--model", model32)
    check(info["dtype"] == "F32" and info["loss"] == "mean_squared_error" and not info["standardized_inputs"],
          "--dtype f32 writes F32 weights; regression uses MSE")
    check(run_json(mlpkit, scratch, "predict_f32", "predict", "--model", model32, "--data", regression)["columns"] == ["y"],
          "predict: a regression model names the target column")

    classes = write_rows(os.path.join(scratch, "classes.csv"), "p,q,label",
                         [[i % 3 + 0.1 * (i % 4), (i % 3) * 2 - 1, i % 3] for i in range(60)])
    model3 = os.path.join(scratch, "classes.safetensors")
    run(mlpkit, "train", "--data", classes, "--target", "label", "--out", model3)
    info = run_json(mlpkit, scratch, "info_classes", "info", "--model", model3)
    check(info["loss"] == "cross_entropy" and info["dims"][-1] == 3, "three integer classes: softmax + cross-entropy")
    check(run_json(mlpkit, scratch, "predict_classes", "predict", "--model", model3, "--data", classes)["columns"] ==
          ["label", "p_0", "p_1", "p_2"], "predict: the class, then its probabilities")


def test_model_errors(mlpkit, scratch):
    data, _ = breast_cancer_csv(scratch)
    model = os.path.join(scratch, "good.safetensors")
    run(mlpkit, "train", "--data", data, "--target", "diagnosis", "--epochs", "2", "--out", model)
    with open(model, "rb") as f:
        good = f.read()

    def file(name, content):
        path = os.path.join(scratch, name)
        with open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        return path

    (length,) = struct.unpack_from("<Q", good)
    header = json.loads(good[8:8 + length])
    header["W1"]["shape"] = [30, 16]
    wrong_shape = json.dumps(header).encode()
    nan_weight = bytearray(good)
    nan_weight[8 + length:8 + length + 8] = struct.pack("<d", float("nan"))
    with open(data, encoding="utf-8") as f:
        lines = f.read().splitlines()
    header_line = lines[0]
    cases = [
        (["train", "--data", file("short_row.csv", header_line + "\n" + lines[1] + "\n" + lines[2].rsplit(",", 1)[0] + "\n"),
          "--target", "diagnosis", "--out", model], ["short_row.csv", "row 2", "30 cells", "31 columns"]),
        (["train", "--data", file("text_cell.csv", header_line + "\n" + lines[1] + "\nabc," + lines[2].split(",", 1)[1] + "\n"),
          "--target", "diagnosis", "--out", model], ["text_cell.csv", "row 2", "column 'f0'", "'abc'", "is not a number"]),
        (["train", "--data", data, "--target", "outcome", "--out", model], ["no column 'outcome'", "breast_cancer_header.csv"]),
        (["train", "--data", file("not_classes.csv", "a,b\n1,0.5\n2,1\n"), "--target", "b", "--task", "classification",
          "--out", model], ["not_classes.csv", "row 1", "'b'", "not a class"]),
        (["predict", "--model", model, "--data", file("missing_feature.csv", "f0,f1\n1,2\n")], ["no column 'f2'"]),
        (["predict", "--model", file("truncated.safetensors", good[:5]), "--data", data], ["truncated.safetensors", "truncated"]),
        (["predict", "--model", file("cut.safetensors", good[:100]), "--data", data], ["runs past the end of the file"]),
        (["info", "--model", file("bad_json.safetensors", good[:8] + b"[" + good[9:])], ["malformed header JSON"]),
        (["info", "--model", file("wrong_shape.safetensors", struct.pack("<Q", len(wrong_shape)) + wrong_shape + good[8 + length:])],
         ["tensor W1", "shape [30, 16]", "needs [16, 30]"]),
        (["predict", "--model", file("nan.safetensors", bytes(nan_weight)), "--data", data], ["tensor W1", "non-finite"]),
        (["gradcheck", "--model", os.path.join(scratch, "absent.safetensors"), "--data", data], ["absent.safetensors", "cannot open"]),
    ]
    for args, parts in cases:
        result = run(mlpkit, *args, expect=2)
        lines_out = result.stderr.strip().splitlines()
        check(len(lines_out) == 1 and all(p in lines_out[0] for p in parts),
              f"{args[0]} {os.path.basename(args[2])}: exit 2, one line naming {parts}\n  got: {result.stderr.strip()}")
    run(mlpkit, "predict", "--model", os.path.join(scratch, "nan.safetensors"), "--data", data, "--allow-nonfinite")
    check(True, "--allow-nonfinite loads a model with NaN weights")


TESTS = {name[len("test_"):]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[2] not in TESTS:
        sys.exit(f"usage: {sys.argv[0]} <mlpkit> <{'|'.join(TESTS)}> <scratch dir>")
    os.makedirs(sys.argv[3], exist_ok=True)
    TESTS[sys.argv[2]](sys.argv[1], sys.argv[3])
