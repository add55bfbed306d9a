"""CPU comparison of fastseq's recurrent layers with torch, for BENCHMARKS.md.

    python3 asv_bench/measure_rnn_cpu.py [--reps 200] [--threads 2]

Inference, batch_first float32 input (B, T=100, I), the same weights, torch under inference_mode
with torch.set_num_threads equal to Numba's thread count. The two implementations are timed
interleaved, call by call, in one process (the shared machine's speed drifts: only ratios taken
side by side mean anything); the table shows medians after warm-up, the speedup is the ratio of
medians, and "per-pair" the median of the per-call ratios.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

CASES = [("LSTM", 1, 64, 128), ("GRU", 1, 64, 128), ("LSTM", 32, 64, 128), ("GRU", 32, 64, 128),
         ("RNN", 1, 64, 128), ("RNN", 32, 64, 128), ("LSTM", 32, 256, 512), ("GRU", 32, 256, 512)]
GOALS = {("LSTM", 1, 128): 1.5, ("GRU", 1, 128): 2.0, ("LSTM", 32, 128): 1.0, ("GRU", 32, 128): 1.5}
T = 100


def measure(kind, B, I, H, reps, torch):
    import fastseq
    torch.manual_seed(0)
    m = getattr(torch.nn, kind)(I, H, batch_first=True).eval()
    f = getattr(fastseq, kind).from_torch(m, device="cpu")
    x = torch.randn(B, T, I)
    xn = x.numpy()

    def run_torch():
        with torch.inference_mode():
            return m(x)

    for _ in range(5):
        f(xn)
        run_torch()
    err = float(np.abs(f(xn)[0] - run_torch()[0].numpy()).max())
    tf, tt = [], []
    for r in range(reps):
        first, second = (f, run_torch) if r % 2 else (run_torch, f)  # alternate the order
        t0 = time.perf_counter()
        first(xn) if first is f else first()
        t1 = time.perf_counter()
        second(xn) if second is f else second()
        t2 = time.perf_counter()
        (tf if first is f else tt).append(t1 - t0)
        (tt if first is f else tf).append(t2 - t1)
    tf, tt = np.array(tf), np.array(tt)
    return np.median(tf), np.median(tt), float(np.median(tt / tf)), err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import numba
    import torch
    numba.set_num_threads(args.threads)
    torch.set_num_threads(numba.get_num_threads())
    print(f"# {platform.processor() or platform.machine()}, numba threads "
          f"{numba.get_num_threads()}, torch {torch.__version__} threads "
          f"{torch.get_num_threads()}, T={T}, float32, "
          f"median of {args.reps} interleaved calls")
    print("| layer | B | I | H | fastseq (ms) | torch (ms) | speedup | per-pair | goal | max err |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, B, I, H in CASES:
        reps = args.reps if H == 128 else max(20, args.reps // 10)
        a, b, pair, err = measure(kind, B, I, H, reps, torch)
        goal = GOALS.get((kind, B, H))
        goal_s = f">= {goal}x" if goal else ""
        print(f"| {kind} | {B} | {I} | {H} | {a * 1e3:.3f} | {b * 1e3:.3f} | {b / a:.2f}x | "
              f"{pair:.2f}x | {goal_s} | {err:.1e} |", flush=True)


if __name__ == "__main__":
    main()
