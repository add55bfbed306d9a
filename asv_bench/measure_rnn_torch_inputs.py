"""What torch-shaped inputs cost in fastseq's recurrent layers, side by side with torch, for
BENCHMARKS.md: a PackedSequence against the same batch given as padded data plus ``lengths``, and
a float16 module against the float32 one.

    PYTHONPATH=. python3 asv_bench/measure_rnn_torch_inputs.py [--reps 100] [--threads 1]

LSTM(64, 128), batch_first=False, T = 100, B = 32, lengths drawn once in 20..100, unsorted
(``enforce_sorted=False``). Every variant of fastseq and torch is timed interleaved in one process,
call by call in rotating order; the table shows medians after warm-up.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import numba
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence

    import fastseq
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    T, B, I, H = 100, 32, 64, 128
    m = torch.nn.LSTM(I, H).eval()
    m16 = torch.nn.LSTM(I, H).eval()
    m16.load_state_dict(m.state_dict())
    m16 = m16.half()
    f = fastseq.LSTM.from_torch(m, device="cpu")
    f16 = fastseq.LSTM.from_torch(m16, device="cpu")
    x = torch.randn(T, B, I)
    lengths = torch.as_tensor(np.random.default_rng(0).integers(20, T + 1, B))
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    xn, ln, x16 = x.numpy(), lengths.numpy(), x.half()

    def torch_call(mod, inp):
        def run():
            with torch.inference_mode():
                return mod(inp)
        return run

    variants = {
        "fastseq padded + lengths": lambda: f(xn, lengths=ln),
        "fastseq PackedSequence": lambda: f(packed),
        "torch PackedSequence": torch_call(m, packed),
        "fastseq float32 (full T)": lambda: f(x),
        "fastseq float16 (full T)": lambda: f16(x16),
        "torch float32 (full T)": torch_call(m, x),
        "torch float16 (full T)": torch_call(m16, x16),
    }
    names = list(variants)
    for _ in range(3):
        for fn in variants.values():
            fn()
    times = {n: [] for n in names}
    for r in range(args.reps):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            variants[n]()
            times[n].append(time.perf_counter() - t0)
    print(f"# {platform.processor() or platform.machine()}, {args.threads} thread(s), "
          f"{args.reps} reps, torch {torch.__version__}, LSTM({I}, {H}) T={T} B={B}")
    for n in names:
        print(f"{n:28s} {1e3 * np.median(times[n]):8.2f} ms")


if __name__ == "__main__":
    main()
