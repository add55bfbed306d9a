"""Peak memory of one LSTM layer call, fastseq and torch, each in a fresh process.

    python3 -m asv_bench.measure_rnn_memory [--batch 256] [--time 2000] [--hidden 256]

Peak resident memory above the process's state after a small warm-up call (so compiled code and
library buffers are not counted), float32, I = 64, 2 threads, inference.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys


def child(which, B, T, H, I=64):
    import numpy as np
    import torch

    import fastseq
    torch.set_num_threads(2)
    x = np.random.default_rng(0).standard_normal((T, B, I), dtype=np.float32)
    m = torch.nn.LSTM(I, H).eval()
    f = fastseq.LSTM.from_torch(m, device="cpu")
    f(x[:5, :4])
    with torch.inference_mode():
        m(torch.from_numpy(x[:5, :4]))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if which == "fastseq":
        f(x)
    else:
        with torch.inference_mode():
            m(torch.from_numpy(x))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((peak - base) / 1024)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--time", type=int, default=2000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--child", choices=["fastseq", "torch"])
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.batch, a.time, a.hidden)
    print(f"LSTM B={a.batch} T={a.time} I=64 H={a.hidden}, peak RSS above the start:")
    for which in ("fastseq", "torch"):
        out = subprocess.run([sys.executable, "-m", "asv_bench.measure_rnn_memory", "--child",
                              which, "--batch", str(a.batch), "--time", str(a.time), "--hidden",
                              str(a.hidden)], capture_output=True, text=True, check=True).stdout
        print(f"  {which}: {float(out.strip().splitlines()[-1]):.0f} MB")


if __name__ == "__main__":
    main()
