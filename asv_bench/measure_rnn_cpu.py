"""CPU comparison of fastseq's recurrent layers and cells with torch, for BENCHMARKS.md.

    python3 -m asv_bench.measure_rnn_cpu [--reps 100] [--threads 1 2] [--isa native|avx2]

Inference, batch_first float32 input (B, T=100, I), the same weights (``from_torch``), torch under
inference_mode with torch.set_num_threads equal to Numba's thread count. fastseq and torch are
timed interleaved, call by call, in one process with no pause between them (the order alternates);
the table shows medians after warm-up, the speedup is the ratio of medians, and "per-pair" the
median of the per-call ratios. ``--isa avx2`` caps Numba and torch's oneDNN alike at AVX2.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from asv_bench._isa import ISA_CHOICES, describe, reexec_for

LAYERS = [("LSTM", 1, 64, 128), ("LSTM", 32, 64, 128), ("GRU", 1, 64, 128), ("GRU", 32, 64, 128),
          ("RNN", 1, 64, 128), ("RNN", 32, 64, 128), ("LSTM", 32, 256, 512),
          ("GRU", 32, 256, 512), ("RNN", 32, 256, 512)]
CELLS = [("LSTMCell", 1), ("LSTMCell", 32), ("GRUCell", 1), ("GRUCell", 32), ("RNNCell", 1),
         ("RNNCell", 32)]
GOALS = {("LSTM", 1, 128): 2.0, ("LSTM", 32, 128): 1.3, ("GRU", 1, 128): 3.0,
         ("GRU", 32, 128): 2.0, ("RNN", 1, 128): 2.0, ("RNN", 32, 128): 2.0}
T = 100


def interleaved(run_fastseq, run_torch, reps):
    """Medians (fastseq, torch) and the median per-pair ratio torch / fastseq."""
    for _ in range(5):
        run_fastseq()
        run_torch()
    tf, tt = [], []
    for r in range(reps):
        pair = (run_fastseq, run_torch) if r % 2 else (run_torch, run_fastseq)
        times = []
        for fn in pair:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        a, b = times if r % 2 else times[::-1]
        tf.append(a)
        tt.append(b)
    tf, tt = np.array(tf), np.array(tt)
    return float(np.median(tf)), float(np.median(tt)), float(np.median(tt / tf))


def measure_layer(kind, B, I, H, reps, torch):
    import fastseq
    torch.manual_seed(0)
    m = getattr(torch.nn, kind)(I, H, batch_first=True).eval()
    f = getattr(fastseq, kind).from_torch(m, device="cpu")
    x = torch.randn(B, T, I)
    xn = x.numpy()

    def run_torch():
        with torch.inference_mode():
            return m(x)

    err = float(np.abs(f(xn)[0] - run_torch()[0].numpy()).max())
    return (*interleaved(lambda: f(xn), run_torch, reps), err)


def measure_cell(kind, B, reps, torch):
    import fastseq
    torch.manual_seed(0)
    m = getattr(torch.nn, kind)(64, 128)
    f = getattr(fastseq, kind).from_torch(m, device="cpu")
    x = torch.randn(B, 64)
    xn = x.numpy()

    def run_torch():
        with torch.inference_mode():
            return m(x)

    got, want = f(xn), run_torch()
    got, want = (got[0], want[0]) if kind == "LSTMCell" else (got, want)
    err = float(np.abs(got - want.numpy()).max())
    return (*interleaved(lambda: f(xn), run_torch, reps * 5), err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--isa", choices=ISA_CHOICES, default="native")
    args = ap.parse_args()
    reexec_for(args.isa)
    import numba
    import torch
    print(f"# CPU: {describe(args.isa)}")
    print(f"# torch {torch.__version__}, T={T}, float32, medians of interleaved calls")
    print("| threads | model | B | I | H | fastseq (ms) | torch (ms) | speedup | per-pair | goal |"
          " max err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.threads:
        numba.set_num_threads(n)
        torch.set_num_threads(n)
        for kind, B, I, H in LAYERS:
            reps = args.reps if H == 128 else max(10, args.reps // 10)
            a, b, pair, err = measure_layer(kind, B, I, H, reps, torch)
            goal = GOALS.get((kind, B, H), 1.0 if H == 512 else None)
            goal_s = f">= {goal}x" if goal else ""
            print(f"| {n} | {kind} | {B} | {I} | {H} | {a * 1e3:.3f} | {b * 1e3:.3f} | "
                  f"{b / a:.2f}x | {pair:.2f}x | {goal_s} | {err:.1e} |", flush=True)
        for kind, B in CELLS:
            a, b, pair, err = measure_cell(kind, B, args.reps, torch)
            print(f"| {n} | {kind} step | {B} | 64 | 128 | {a * 1e3:.4f} | {b * 1e3:.4f} | "
                  f"{b / a:.2f}x | {pair:.2f}x | >= 1.0x | {err:.1e} |", flush=True)


if __name__ == "__main__":
    main()
