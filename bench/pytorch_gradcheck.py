#!/usr/bin/env python3
"""PyTorch's torch.autograd.gradcheck on the networks bench_gradcheck checks, for side-by-side figures.

  directional  784-128-64-10 (ReLU, softmax cross-entropy), batch 32, double, one thread:
               gradcheck(..., fast_mode=True) of the loss as a function of all 109 386 parameters,
               median wall time of --repeats warm calls (the first one not counted).
  first_call   the bench network (gradcheck_problem.hpp: depth − 1 ReLU layers of width units, a
               sigmoid output, binary cross-entropy, double, batch 32) at each depth/width point: a
               fresh Python process per measurement times its first gradcheck call (full, not fast
               mode; import and set-up not counted) and then a warm one; medians over --repeats
               processes.

Prints one JSON object per line. Run with the system interpreter that has torch:
  /usr/bin/python3 bench/pytorch_gradcheck.py directional --repeats 7
  /usr/bin/python3 bench/pytorch_gradcheck.py first_call --repeats 3
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

POINTS = [(2, 16), (4, 16), (4, 32), (8, 32), (4, 64), (8, 64)]


def mlp_loss(dims, hidden, output, batch, seed):
    """A flat parameter vector θ (He init) and J(θ) for an MLP with layers dims (examples are rows)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    shapes = [(dims[l + 1], dims[l]) for l in range(len(dims) - 1)]
    parts = []
    for out_n, in_n in shapes:
        parts.append(torch.randn(out_n * in_n, generator=g, dtype=torch.float64) * (2.0 / in_n) ** 0.5)
        parts.append(torch.zeros(out_n, dtype=torch.float64))
    theta = torch.cat(parts).requires_grad_(True)
    x = torch.rand(batch, dims[0], generator=g, dtype=torch.float64) * 2 - 1

    def unpack(t):
        at, layers = 0, []
        for out_n, in_n in shapes:
            w = t[at:at + out_n * in_n].view(out_n, in_n)
            at += out_n * in_n
            b = t[at:at + out_n]
            at += out_n
            layers.append((w, b))
        return layers

    if output == "softmax":
        y = torch.arange(batch) % dims[-1]
        criterion = torch.nn.functional.cross_entropy
    else:
        y = (torch.arange(batch) % 2 == 0).to(torch.float64).view(batch, 1)
        criterion = torch.nn.functional.binary_cross_entropy_with_logits

    def loss(t):
        a = x
        layers = unpack(t)
        for w, b in layers[:-1]:
            a = torch.relu(a @ w.T + b)
        w, b = layers[-1]
        return criterion(a @ w.T + b, y)
    return theta, loss


def timed_check(loss, theta, fast_mode):
    import torch
    start = time.perf_counter()
    ok = torch.autograd.gradcheck(loss, (theta,), eps=1e-7, atol=1e-5, rtol=1e-3, fast_mode=fast_mode)
    elapsed = time.perf_counter() - start
    assert ok
    return elapsed


def directional(repeats):
    import torch
    torch.set_num_threads(1)
    theta, loss = mlp_loss([784, 128, 64, 10], "relu", "softmax", 32, 42)
    timed_check(loss, theta, True)  # warm-up
    times = [timed_check(loss, theta, True) for _ in range(repeats)]
    start = time.perf_counter()
    for _ in range(repeats):
        loss(theta).item()
    loss_ms = (time.perf_counter() - start) / repeats * 1e3
    print(json.dumps({"bench": "pytorch_fast_mode_gradcheck", "dims": [784, 128, 64, 10], "batch": 32,
                      "parameters": theta.numel(), "median_ms": statistics.median(times) * 1e3,
                      "min_ms": min(times) * 1e3, "repeats": repeats, "loss_ms": loss_ms,
                      "torch": torch.__version__}))


def one_process(depth, width):
    """Runs in a fresh process: the first full gradcheck of this process, then a warm one."""
    import torch
    torch.set_num_threads(1)
    theta, loss = mlp_loss([width] * depth + [1], "relu", "sigmoid", 32, 42)
    first = timed_check(loss, theta, False)
    warm = timed_check(loss, theta, False)
    print(json.dumps({"first_s": first, "warm_s": warm, "parameters": theta.numel()}))


def first_call(repeats, points):
    for depth, width in points:
        firsts, warms, parameters = [], [], 0
        for _ in range(repeats):
            out = subprocess.run([sys.executable, __file__, "one_process", str(depth), str(width)],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            firsts.append(r["first_s"])
            warms.append(r["warm_s"])
            parameters = r["parameters"]
        first = statistics.median(firsts)
        print(json.dumps({"bench": "pytorch_gradcheck_first_call", "depth": depth, "width": width,
                          "parameters": parameters, "first_ms": first * 1e3,
                          "warm_ms": statistics.median(warms) * 1e3, "first_params_per_s": parameters / first,
                          "repeats": repeats}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    d = sub.add_parser("directional")
    d.add_argument("--repeats", type=int, default=7)
    f = sub.add_parser("first_call")
    f.add_argument("--repeats", type=int, default=3)
    f.add_argument("--points", default="all", help="'all' or depth/width pairs like 2/16,4/16")
    o = sub.add_parser("one_process")
    o.add_argument("depth", type=int)
    o.add_argument("width", type=int)
    args = parser.parse_args()
    if args.what == "directional":
        directional(args.repeats)
    elif args.what == "first_call":
        points = POINTS if args.points == "all" else [tuple(int(v) for v in p.split("/")) for p in args.points.split(",")]
        first_call(args.repeats, points)
    else:
        one_process(args.depth, args.width)


if __name__ == "__main__":
    main()
