#!/usr/bin/env python3
"""Turn the JSON of `mlpkit sweep --json` and `mlpkit experiment … --json` into PNG plots.

    mlpkit sweep --json --out sweep.json
    mlpkit experiment fd-error --json --out fd_error.json
    mlpkit experiment normalization --json --out normalization.json
    mlpkit experiment init --json --out init.json
    python3 tools/plots/plot_experiments.py sweep.json fd_error.json normalization.json init.json --out-dir plots/

Each input is recognised by its "command" field; one PNG is written per input.
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def plot_sweep(data, path):
    activations = sorted({run["activation"] for run in data["runs"]})
    deepest = max(run["depth"] for run in data["runs"])
    fig, axes = plt.subplots(1, len(activations) + 1, figsize=(5.5 * (len(activations) + 1), 4.5))
    for ax, activation in zip(axes, activations):
        all_zero = []
        for run in data["runs"]:
            if run["activation"] != activation or run["depth"] != deepest:
                continue
            stds = run["activation_std"][:-1] or run["activation_std"]  # hidden layers
            if not any(stds):
                all_zero.append(run["init"])  # symmetric and silent: nothing to draw on a log axis
                continue
            ax.semilogy(range(1, len(stds) + 1), stds, marker=".", label=run["init"])
        note = f" ({', '.join(all_zero)}: all zero)" if all_zero else ""
        ax.set_title(f"{activation}: std of A[l] at init, depth {deepest}{note}", fontsize=10)
        ax.set_xlabel("layer l")
        ax.set_ylabel("std(A[l])")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    ax = axes[-1]
    for demo in data["identity_demo"]:
        if demo["depth"] != deepest:
            continue
        stds = demo["activation_std"]
        ax.semilogy(range(1, len(stds) + 1), stds, marker=".", label=f"W = {demo['c']}·I")
    ax.set_title("identity activations: ŷ = c^(L−1)·x")
    ax.set_xlabel("layer l")
    ax.set_ylabel("std(A[l])")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_fd_error(data, path):
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    ax.loglog(data["eps"], data["one_sided_error"], marker="o", label=f"one-sided (slope {data['one_sided_slope']:.2f})")
    ax.loglog(data["eps"], data["two_sided_error"], marker="s", label=f"two-sided (slope {data['two_sided_slope']:.2f})")
    lo, hi = data["fit_range"]
    ax.axvspan(lo, hi, color="grey", alpha=0.12, label="slope fit range")
    ax.set_xlabel("ε")
    ax.set_ylabel("‖dθ_approx − dθ‖₂ / ‖dθ‖₂")
    ax.set_title("Finite-difference error vs ε (double)")
    ax.invert_xaxis()
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_curves(curves, title, path, xlabel, target=None):
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    for label, loss in curves:
        if loss:
            ax.semilogy(range(1, len(loss) + 1), loss, label=label)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", label=f"target {target}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("training loss J")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_normalization(data, path):
    curves = []
    for name in ("raw", "standardized"):
        run = data[name]
        curves.append((f"{name} (lr {run['learning_rate']:g}, test acc {run['test_accuracy']:.3f})", run["loss"]))
    plot_curves(curves, "Breast Cancer Wisconsin: raw vs standardized inputs (best learning rate each)", path,
                "gradient-descent iteration (full batch)", data["target_loss"])


def plot_init(data, path):
    curves = [(f"{name} (test acc {run['test_accuracy']:.3f})", run["loss"]) for name, run in data["schemes"].items()]
    plot_curves(curves, f"8×8 digits, {len(data['dims']) - 1} layers: init schemes", path,
                f"epoch (mini-batches, {data['optimizer']})")


PLOTTERS = {
    "sweep": ("sweep.png", plot_sweep),
    "experiment fd-error": ("fd_error.png", plot_fd_error),
    "experiment normalization": ("normalization.png", plot_normalization),
    "experiment init": ("init.png", plot_init),
}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="JSON files written by mlpkit --json")
    parser.add_argument("--out-dir", default=".", help="where the PNGs go")
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    for name in args.inputs:
        with open(name, encoding="utf-8") as f:
            data = json.load(f)
        command = data.get("command")
        if command not in PLOTTERS:
            sys.exit(f"{name}: unknown command {command!r} (expected one of {', '.join(PLOTTERS)})")
        filename, plot = PLOTTERS[command]
        out = os.path.join(args.out_dir, filename)
        plot(data, out)
        plt.close("all")
        print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
