#!/usr/bin/env python3
"""PyTorch eager inference at batch 1, beside bench_mlp's BM_predict_batch1 rows.

The same network shape as the benchmark: depth layers of width × width (nn.Linear with bias), ReLU
between them, float32, one example, one thread, under torch.inference_mode(). Prints one JSON object
per width: the median time per call in µs over --repeats blocks of --calls calls each.

  /usr/bin/python3 bench/pytorch_predict.py --depth 8 --widths 64 256 1024
"""
import argparse
import json
import statistics
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    import torch
    torch.set_num_threads(1)
    for width in args.widths:
        layers = []
        for i in range(args.depth):
            layers.append(torch.nn.Linear(width, width))
            if i + 1 < args.depth:
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers).eval()
        x = torch.rand(1, width)
        times = []
        with torch.inference_mode():
            for _ in range(20):
                net(x)
            for _ in range(args.repeats):
                start = time.perf_counter()
                for _ in range(args.calls):
                    net(x)
                times.append((time.perf_counter() - start) / args.calls * 1e6)
        print(json.dumps({"framework": f"torch {torch.__version__} eager", "depth": args.depth, "width": width,
                          "batch": 1, "threads": 1, "us_per_call": round(statistics.median(times), 2)}))


if __name__ == "__main__":
    main()
