#!/usr/bin/env python3
"""PyTorch's CPU hard negative mining on this machine, for comparison with `hnm bench`.

Not part of the test suite or CI (torch is no dependency of this project). Needs Debian's
python3-torch (torch 1.13 here): `apt-get install python3-torch`, then

    /usr/bin/python3 bench/pytorch_compare.py [--rows 1024] [--cols 8732] [--threads 1,2]

Times, on the same shape and distribution as `hnm bench --dist exp` (exponential losses, k uniform
in 0..600 per row), the seed's double sort (stable, so tie-exact) and `topk` + scatter (not stable
on ties, so not exact in general), and prints the median ns per element of each.

With `--serve DIR --rows R --cols C --threads T`, it instead reads a batch written by
`bench/kernel.bench.ts --torch` (DIR/loss.f32: R x C float32; DIR/num_neg.i32: R int32, native
byte order) and times one call per line read from stdin (`double_sort` or `topk`), answering the
milliseconds on stdout (`--clock cpu`: this process's CPU time); `check` writes the double sort's mask to DIR/mask.u8. The kernel benchmark
runs it in its rounds, so torch and the kernel are timed on the same bytes side by side.
"""
import argparse
import os
import statistics
import sys
import time

import torch


def double_sort(loss, num_neg):
    _, loss_idx = loss.sort(stable=True, dim=1, descending=True)
    _, idx_rank = loss_idx.sort(stable=True, dim=1)
    return idx_rank < num_neg.unsqueeze(1)


def topk_scatter(loss, num_neg):
    k_max = int(num_neg.max())
    _, idx = loss.topk(k_max, dim=1)
    keep = torch.arange(k_max).unsqueeze(0) < num_neg.unsqueeze(1)
    mask = torch.zeros_like(loss, dtype=torch.bool)
    return mask.scatter_(1, idx, keep)


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def serve(args):
    import numpy as np

    loss = torch.from_numpy(
        np.fromfile(os.path.join(args.serve, "loss.f32"), dtype=np.float32).reshape(args.rows, args.cols)
    )
    num_neg = torch.from_numpy(np.fromfile(os.path.join(args.serve, "num_neg.i32"), dtype=np.int32).astype(np.int64))
    torch.set_num_threads(int(args.threads))
    fns = {"double_sort": double_sort, "topk": topk_scatter}
    for fn in fns.values():
        fn(loss, num_neg)  # warm-up
    print(f"ready torch {torch.__version__}", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name == "check":
            double_sort(loss, num_neg).numpy().astype(np.uint8).tofile(os.path.join(args.serve, "mask.u8"))
            print("0", flush=True)
            continue
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        start = clock()
        fns[name](loss, num_neg)
        print(f"{(clock() - start) * 1e3:.6f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", default=None)
    parser.add_argument("--clock", default="wall", choices=["cpu", "wall"])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--cols", type=int, default=8732)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args)
        return
    gen = torch.Generator().manual_seed(1)
    loss = torch.empty(args.rows, args.cols).exponential_(generator=gen)
    num_neg = torch.randint(0, 601, (args.rows,), generator=gen)
    elements = args.rows * args.cols
    print(f"torch {torch.__version__}, rows {args.rows}, cols {args.cols}, exp losses, k in 0..600")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for name, fn in (("double sort (seed)", double_sort), ("topk + scatter", topk_scatter)):
            ms = median_ms(lambda: fn(loss, num_neg), args.repeats)
            print(f"  {threads} thread(s)  {name:20s} {ms:9.2f} ms  {ms * 1e6 / elements:8.2f} ns/element")


if __name__ == "__main__":
    main()
