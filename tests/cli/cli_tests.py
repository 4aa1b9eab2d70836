#!/usr/bin/env python3
"""Command-line tests of the mlpkit tool: each runs one command with small arguments and checks
its JSON (or its exit status and message). Usage: cli_tests.py <mlpkit binary> <test name> <scratch dir>
Exit status 77 means skipped (CTest SKIP_RETURN_CODE)."""
import json
import os
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


TESTS = {name[len("test_"):]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[2] not in TESTS:
        sys.exit(f"usage: {sys.argv[0]} <mlpkit> <{'|'.join(TESTS)}> <scratch dir>")
    os.makedirs(sys.argv[3], exist_ok=True)
    TESTS[sys.argv[2]](sys.argv[1], sys.argv[3])
