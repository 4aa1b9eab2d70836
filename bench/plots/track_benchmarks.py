#!/usr/bin/env python3
"""Benchmark tracking for mlpkit, in the style of Google Benchmark's compare.py.

  run      run benchmark binaries with repetitions into one JSON file
  compare  compare two such files by the median of each benchmark; flag changes beyond a threshold
  plot     draw throughput against depth and against width (bench_mlp, bench_gradcheck) as PNGs

Examples:
  track_benchmarks.py run build/release/bench/bench_mlp build/release/bench/bench_gradcheck \\
      --repetitions 5 --filter 'threads:1' --out results.json
  track_benchmarks.py compare bench/baselines/zen4-2core.json results.json --threshold 0.10
  track_benchmarks.py plot results.json --out-dir plots/
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

# The counter each suite is judged by (higher is better); else real_time (lower is better).
RATE_COUNTERS = ("GFLOP/s", "params_per_s", "items_per_second", "bytes_per_second", "samples/s", "params/s")


def run(args):
    merged = {"context": None, "benchmarks": []}
    for binary in args.binaries:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            out = tmp.name
        cmd = [binary, f"--benchmark_repetitions={args.repetitions}", "--benchmark_report_aggregates_only=false",
               f"--benchmark_out={out}", "--benchmark_out_format=json", f"--benchmark_min_time={args.min_time}"]
        if args.filter:
            cmd.append(f"--benchmark_filter={args.filter}")
        print("running", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out, encoding="utf-8") as f:
            data = json.load(f)
        os.unlink(out)
        merged["context"] = merged["context"] or data["context"]
        suite = os.path.basename(binary)
        for b in data["benchmarks"]:
            b["suite"] = suite
            merged["benchmarks"].append(b)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(merged, f, indent=1)
    print(f"wrote {args.out}", file=sys.stderr)


def medians(path):
    """{benchmark name: (value, higher_is_better, unit)} from the iterations of each benchmark."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    samples = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        counter = next((c for c in RATE_COUNTERS if c in b), None)
        value = b[counter] if counter else b["real_time"]
        entry = samples.setdefault(b["run_name"] if "run_name" in b else b["name"], ([], counter is not None, counter or b.get("time_unit", "ns")))
        entry[0].append(value)
    return {name: (statistics.median(v), hib, unit) for name, (v, hib, unit) in samples.items()}


def compare(args):
    old, new = medians(args.baseline), medians(args.contender)
    width = max((len(n) for n in new), default=10)
    print(f"{'benchmark':<{width}}  {'baseline':>12}  {'contender':>12}  {'change':>8}  unit")
    regressions = improvements = 0
    for name in sorted(new):
        if name not in old:
            continue
        (a, hib, unit), (b, _, _) = old[name], new[name]
        change = (b - a) / a if hib else (a - b) / b  # positive: faster
        flag = ""
        if change < -args.threshold:
            flag, regressions = "  SLOWER", regressions + 1
        elif change > args.threshold:
            flag, improvements = "  faster", improvements + 1
        print(f"{name:<{width}}  {a:>12.4g}  {b:>12.4g}  {change:>+7.1%}  {unit}{flag}")
    missing = sorted(set(old) - set(new))
    print(f"\n{regressions} slower and {improvements} faster beyond ±{args.threshold:.0%}; "
          f"{len(missing)} baseline benchmarks not in the contender")
    return 1 if regressions and args.fail_on_regression else 0


def parse_args_from_name(name):
    return {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", name)}


def plot(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = medians(args.results)
    os.makedirs(args.out_dir, exist_ok=True)
    groups = {}
    for name, (value, hib, unit) in values.items():
        fields = parse_args_from_name(name)
        if "depth" not in fields or "width" not in fields or not hib:
            continue
        series = re.sub(r"/(depth|width):\d+", "", name)
        groups.setdefault(series, {})[(fields["depth"], fields["width"])] = (value, unit)
    written = []
    for axis, other in (("depth", "width"), ("width", "depth")):
        for series, points in groups.items():
            fig, ax = plt.subplots(figsize=(6.5, 4.5))
            others = sorted({k[1] if axis == "depth" else k[0] for k in points})
            unit = next(iter(points.values()))[1]
            for o in others:
                xs = sorted(k[0] if axis == "depth" else k[1] for k in points if (k[1] if axis == "depth" else k[0]) == o)
                ys = [points[(x, o) if axis == "depth" else (o, x)][0] for x in xs]
                ax.plot(xs, ys, marker="o", label=f"{other} {o}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(axis)
            ax.set_ylabel(unit)
            ax.set_title(f"{series} vs {axis}", fontsize=9)
            ax.legend(fontsize=8)
            ax.grid(True, which="both", alpha=0.3)
            fig.tight_layout()
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", series).strip("_")
            path = os.path.join(args.out_dir, f"{safe}_vs_{axis}.png")
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
    for path in written:
        print("wrote", path)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run benchmark binaries into one JSON file")
    p.add_argument("binaries", nargs="+")
    p.add_argument("--repetitions", type=int, default=5)
    p.add_argument("--min-time", default="0.1", help="--benchmark_min_time per repetition")
    p.add_argument("--filter", default="", help="--benchmark_filter regex")
    p.add_argument("--out", required=True)
    p = sub.add_parser("compare", help="compare medians of two result files")
    p.add_argument("baseline")
    p.add_argument("contender")
    p.add_argument("--threshold", type=float, default=0.10, help="relative change that is flagged (default 0.10)")
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 when anything is slower")
    p = sub.add_parser("plot", help="throughput vs depth and vs width")
    p.add_argument("results")
    p.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv)
    return {"run": run, "compare": compare, "plot": plot}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
