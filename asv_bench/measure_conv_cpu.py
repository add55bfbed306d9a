"""CPU comparison of fastseq's Conv1d and TCN with torch, offline and streaming, for BENCHMARKS.md.

    python3 -m asv_bench.measure_conv_cpu [--repeats 100] [--isa native|avx2] [--threads 1 2]

Cases (float32, inference, the same weights on both sides):

- Conv1d (B=32, C=64, T=100) -> 128 channels, kernel 3 (goal: at least torch's speed);
- a 6-block TCN, 128 channels, kernel 3, dilations 1..32, on the same input; torch runs the same
  stack (causal pad, conv, relu, residual add, 1x1 projection in the first block) (goal >= 1.3x);
- streaming at B = 1: one TCN step of that TCN (fastseq ``step`` with its ring buffers) against
  torch re-running the stack over the receptive field (127 inputs) for the newest output
  (goals >= 10x and < 50 us).

fastseq and torch are called alternately in one process (the shared machine's speed drifts: only
ratios taken side by side mean anything); each row prints the medians and torch / fastseq.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from asv_bench._isa import ISA_CHOICES, describe, reexec_for

B, C_IN, T, C = 32, 64, 100, 128
DILATIONS = [1, 2, 4, 8, 16, 32]
STEPS = 100   # streamed steps per timed call


def interleaved(fns, repeats):
    """Median wall seconds and median process CPU seconds of each callable, called in turn
    ``repeats`` times after a warm-up. On the shared machine the CPU time is the steadier figure
    at one thread (it leaves out the time other jobs held the core); at two threads it also
    counts the workers' spinning."""
    for fn in fns.values():
        fn()
        fn()
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            start, start_cpu = time.perf_counter(), time.process_time()
            fns[name]()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return ({name: float(np.median(t)) for name, t in wall.items()},
            {name: float(np.median(t)) for name, t in cpu.items()})


def cases(torch):
    import fastseq
    from fastseq.cli._compare_conv import run_torch_tcn, torch_tcn
    torch.manual_seed(0)
    x = torch.randn(B, C_IN, T)
    xn = x.numpy()
    conv = torch.nn.Conv1d(C_IN, C, 3).eval()
    fconv = fastseq.Conv1d.from_torch(conv, device="cpu")
    seq = torch_tcn(torch, C_IN, C, 3, DILATIONS)
    tcn = fastseq.TCN.from_torch(seq, device="cpu")
    with torch.inference_mode():
        err_conv = float(np.abs(fconv(xn) - conv(x).numpy()).max())
        err_tcn = float(np.abs(tcn(xn) - run_torch_tcn(torch, seq, x).numpy()).max())
    yield ("Conv1d (32, 64, 100) -> 128, k=3", ">= 1.0x", err_conv,
           {"fastseq": lambda: fconv(xn), "torch": lambda: conv(x)}, 1)
    yield ("TCN 6 x 128, k=3, dilations 1..32, (32, 64, 100)", ">= 1.3x", err_tcn,
           {"fastseq": lambda: tcn(xn), "torch": lambda: run_torch_tcn(torch, seq, x)}, 1)
    rf = tcn.receptive_field
    xs = np.random.default_rng(1).standard_normal((STEPS, C_IN), dtype=np.float32)
    window = torch.from_numpy(np.random.default_rng(2).standard_normal((1, C_IN, rf),
                                                                       dtype=np.float32))
    state = tcn.init_state(1)

    def fast_steps():
        for t in range(STEPS):
            tcn.step(xs[t], state)

    def torch_steps():
        for _ in range(STEPS):
            run_torch_tcn(torch, seq, window)[:, :, -1]
    # streamed outputs equal the offline ones (the check the tests make, repeated here)
    xlong = np.random.default_rng(3).standard_normal((1, C_IN, 300), dtype=np.float32)
    st = tcn.init_state(1)
    streamed = np.stack([tcn.step(xlong[:, :, t], st)[0] for t in range(300)], axis=-1)
    err_stream = float(np.abs(streamed - tcn(xlong)).max())
    yield (f"TCN step, B=1 (torch: stack over the receptive field {rf})", ">= 10x, < 50 us",
           err_stream, {"fastseq": fast_steps, "torch": torch_steps}, STEPS)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--isa", choices=ISA_CHOICES, default="native")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    reexec_for(args.isa)
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    from fastseq import _threads
    _threads._controller()   # load the BLAS Numba calls now, so threadpool_limits reaches it
    print(f"CPU: {describe(args.isa)}; torch {torch.__version__}, numba {numba.__version__}")
    for threads in args.threads:
        numba.set_num_threads(threads)
        torch.set_num_threads(threads)
        print(f"\n{threads} thread(s), median of {args.repeats} interleaved calls\n")
        print("| case | fastseq | torch | torch / fastseq | CPU time: fastseq | torch | ratio "
              "| goal | max abs err |")
        print("|---|---|---|---|---|---|---|---|---|")
        with threadpool_limits(threads), torch.inference_mode():
            for name, goal, err, fns, per in cases(torch):
                t, c = interleaved(fns, args.repeats)
                f, p = t["fastseq"] / per, t["torch"] / per
                cf, cp = c["fastseq"] / per, c["torch"] / per
                unit, scale = ("us", 1e6) if per > 1 else ("ms", 1e3)
                print(f"| {name} | {f * scale:.2f} {unit} | {p * scale:.2f} {unit} | "
                      f"{p / f:.2f}x | {cf * scale:.2f} {unit} | {cp * scale:.2f} {unit} | "
                      f"{cp / max(cf, 1e-12):.2f}x | {goal} | {err:.1e} |", flush=True)


if __name__ == "__main__":
    main()
