"""CPU training step of fastseq.nn beside torch's modules, for BENCHMARKS.md.

    python3 asv_bench/measure_train_cpu.py [--reps 30] [--threads 1,2] [--isa native|avx2]
                                           [--memory]

One step = forward of a whole sequence, ``out.sum().backward()`` (parameter gradients; the input
does not require one), no optimizer, float32, input (T=100, B, I) time-major, the same weights on
both sides. Per thread count, Numba and torch get the same number of threads. The two are timed
interleaved, step by step, in one process (the order alternates; the shared machine's speed
drifts, so only ratios taken side by side mean anything); medians after warm-up. ``--memory``
adds the peak resident memory of one step above what the process held before it, each library in
a fresh process with glibc's mmap threshold fixed at 128 KiB (so freed arrays leave the RSS;
Linux: VmHWM after resetting it through /proc/self/clear_refs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _isa import ISA_CHOICES, describe, reexec_for  # noqa: E402

T = 100
CASES = [("LSTM", 32, 64, 128), ("GRU", 32, 64, 128), ("LSTM", 1, 64, 128), ("GRU", 1, 64, 128),
         ("RNN", 32, 64, 128), ("LSTM", 32, 64, 512), ("GRU", 32, 64, 512)]
GOALS = {("LSTM", 32, 128): 1.5, ("GRU", 32, 128): 2.0, ("LSTM", 1, 128): 2.0,
         ("GRU", 1, 128): 2.0, ("LSTM", 32, 512): 1.0, ("GRU", 32, 512): 1.0}


def make_step(kind, B, I, H, implementation):
    """A function running one training step with ``implementation`` ("fastseq" or "torch")."""
    import torch

    import fastseq.nn as fnn
    torch.manual_seed(0)
    lib = fnn if implementation == "fastseq" else torch.nn
    m = getattr(lib, kind)(I, H)
    x = torch.randn(T, B, I)

    def step():
        for p in m.parameters():
            p.grad = None
        out, _ = m(x)
        out.sum().backward()
    return step


def measure(kind, B, I, H, reps):
    steps = {impl: make_step(kind, B, I, H, impl) for impl in ("fastseq", "torch")}
    for _ in range(3):
        for s in steps.values():
            s()
    times = {"fastseq": [], "torch": []}
    for r in range(reps):
        order = ("fastseq", "torch") if r % 2 else ("torch", "fastseq")
        for impl in order:
            t0 = time.perf_counter()
            steps[impl]()
            times[impl].append(time.perf_counter() - t0)
    f, t = np.array(times["fastseq"]), np.array(times["torch"])
    return float(np.median(f)), float(np.median(t)), float(np.median(t / f))


def _peak_one(kind, B, I, H, implementation, threads):
    """Run in a fresh process: the step's peak RSS above the RSS before it, in MiB."""
    import gc

    import numba
    import torch
    numba.set_num_threads(threads)
    torch.set_num_threads(threads)
    step = make_step(kind, B, I, H, implementation)
    step()
    step()
    gc.collect()

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    step()
    return status("VmHWM") - before


def peak_memory(kind, B, I, H, implementation, threads):
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import measure_train_cpu as m; "
            f"print(m._peak_one({kind!r}, {B}, {I}, {H}, {implementation!r}, {threads}))")
    # a fixed mmap threshold: glibc then returns every large block on free, so the RSS before
    # the step holds no cached arrays of the warm-up steps
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env)
    return float(done.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--isa", choices=ISA_CHOICES, default="native")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--cases", default="", help="indices into CASES, comma-separated (all)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    reexec_for(args.isa)
    import numba
    import torch
    cases = [CASES[int(i)] for i in args.cases.split(",")] if args.cases else CASES
    print(f"# {describe(args.isa)}; torch {torch.__version__}; T={T}, float32, one step = "
          f"forward + out.sum().backward(); median of {args.reps} interleaved steps")
    print("| layer | B | I | H | threads | fastseq (ms) | torch (ms) | speedup | per-pair | goal |"
          + (" peak MiB fastseq / torch |" if args.memory else ""))
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if args.memory else ""))
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        numba.set_num_threads(threads)
        torch.set_num_threads(threads)
        for kind, B, I, H in cases:
            reps = args.reps if H == 128 else max(5, args.reps // 5)
            a, b, pair = measure(kind, B, I, H, reps)
            goal = GOALS.get((kind, B, H))
            row = dict(kind=kind, B=B, I=I, H=H, threads=threads, fastseq_ms=a * 1e3,
                       torch_ms=b * 1e3, speedup=b / a, per_pair=pair)
            mem = ""
            if args.memory:
                row["peak_fastseq_mib"] = peak_memory(kind, B, I, H, "fastseq", threads)
                row["peak_torch_mib"] = peak_memory(kind, B, I, H, "torch", threads)
                mem = f" {row['peak_fastseq_mib']:.1f} / {row['peak_torch_mib']:.1f} |"
            rows.append(row)
            print(f"| {kind} | {B} | {I} | {H} | {threads} | {a * 1e3:.2f} | {b * 1e3:.2f} | "
                  f"{b / a:.2f}x | {pair:.2f}x | {f'>= {goal}x' if goal else ''} |{mem}",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
