"""GPU benchmark of fastseq's recurrent layers against torch nn.LSTM / nn.GRU on cuDNN.

    PYTHONPATH=. python3 asv_bench/device_rnn.py [--runs 200] [--warmup 20] [--json out.json]

Inference, batch_first input (B, T=100, I=64), float32, TF32 off everywhere, the same weights on
both sides. Each run is timed with CUDA events around one whole layer call (input projection
included on both sides) and followed by a synchronisation; fastseq and torch runs are interleaved
and the table shows medians after warm-up. fastseq runs through the public layers
(``fastseq.LSTM`` / ``fastseq.GRU``, ``from_torch``) when they exist, else through the recurrence
kernel directly: one cuBLAS GEMM for x @ W_ih.T + b_ih, then ``recurrence_cuda``.

Shapes: H=128 with B in {1, 8, 32} (goal: at least 2x faster than cuDNN) and H=512 with B=64
(goal: no slower), plus variable lengths at H=128, B=32 (goal: no more than the longest sequence
costs). Each row names the path that ran (the layer's ``last_path``, or the kernel's ``record``;
the planner's prediction is kept in the JSON as ``predicted_path``) and the peak device memory of
one call on each side (CuPy's pool through a counting allocator; torch's
``max_memory_allocated``). Without a usable GPU it exits at once with status 2 and the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from asv_bench._common import peak_cupy_bytes

SHAPES = [(1, 128), (8, 128), (32, 128), (64, 512)]  # (B, H)
T, I = 100, 64


def fail(msg: str):
    print(f"device_rnn.py: {msg}", file=sys.stderr)
    raise SystemExit(2)


def check_gpu():
    from fastseq._backend import gpu_status
    status = gpu_status()
    if not status.available:
        fail(f"needs a usable CUDA GPU, but {status.reason}")
    try:
        import torch
    except Exception as exc:
        fail(f"needs torch with CUDA ({type(exc).__name__}: {exc})")
    if not torch.cuda.is_available():
        fail("torch reports no CUDA device (a CPU-only torch build?)")
    if os.environ.get("CUPY_TF32") == "1":
        fail("CUPY_TF32=1 is set: unset it, the comparison runs with TF32 off")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return status, torch


def fastseq_layer(torch, kind, m, x):
    """The public layer (``fastseq.LSTM/GRU.from_torch``) as a callable x -> output,
    or (None, why) when it is missing or does not run on this CUDA input."""
    import fastseq
    try:
        layer = getattr(fastseq, {"lstm": "LSTM", "gru": "GRU"}[kind]).from_torch(m)
        got = layer(x)
        got = got[0] if isinstance(got, tuple) else got
        if not (isinstance(got, torch.Tensor) and got.is_cuda):
            return None, f"the layer returned {type(got).__name__}, not a CUDA tensor"
        return layer, "layer"
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def fastseq_kernel(kind, m):
    """x (B, T, I) CUDA tensor [, lengths (B,) CuPy int64] -> output (B, T, H) through the kernel
    directly: one cuBLAS GEMM for x @ W_ih.T + b_ih, then ``recurrence_cuda``."""
    import cupy
    from fastseq._defaults import GATES
    from fastseq.rnn._recurrence_cuda import recurrence_cuda
    G = GATES[kind]
    H = m.hidden_size
    w_ih = cupy.from_dlpack(m.weight_ih_l0.detach().contiguous())
    b_ih = cupy.from_dlpack(m.bias_ih_l0.detach().contiguous())
    w_hh = cupy.from_dlpack(m.weight_hh_l0.detach().contiguous())
    b_hh = cupy.from_dlpack(m.bias_hh_l0.detach().contiguous())

    def run(x, lengths=None, record=None):
        xc = cupy.from_dlpack(x.detach())                     # (B, T, I)
        B, Tn, _ = xc.shape
        xt = cupy.ascontiguousarray(xc.transpose(1, 0, 2)).reshape(Tn * B, -1)
        xproj = cupy.matmul(xt, w_ih.T)
        xproj += b_ih
        xproj = xproj.reshape(Tn, B, G * H)
        if lengths is None:
            lengths = cupy.full(B, Tn, dtype=cupy.int64)
        h0 = cupy.zeros((B, H), dtype=xproj.dtype)
        c0 = cupy.zeros((B, H), dtype=xproj.dtype) if kind == "lstm" else None
        out, h_n, c_n = recurrence_cuda(kind, xproj, w_hh, b_hh, h0, c0, lengths, False, "tanh",
                                        None, record=record)
        return out.transpose(1, 0, 2)                          # batch_first view
    return run


def measure_pair(torch, fns, runs, warmup):
    """Median milliseconds of each callable, runs interleaved, CUDA events around each call."""
    times = [[] for _ in fns]
    for i in range(warmup + runs):
        for j, fn in enumerate(fns):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            end.synchronize()
            if i >= warmup:
                times[j].append(start.elapsed_time(end))
    return [statistics.median(t) for t in times]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    status, torch = check_gpu()
    import cupy
    import numpy as np
    from fastseq.rnn._cuda_plan import choose_path, device_sm_count, optin_smem_budget
    from fastseq.rnn._recurrence_cuda_kernels import allow_persistent_smem

    dev = torch.device("cuda")
    n_sm = device_sm_count(cupy.cuda.Device().id)
    print(f"device: {status.name} (cc {status.compute_capability}, {n_sm} SMs), "
          f"cupy {status.cupy_version}, numba-cuda {status.numba_cuda_version}, "
          f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}; TF32 off")
    rows = []
    torch.manual_seed(0)
    cases = [(kind, B, H, False) for kind in ("lstm", "gru") for B, H in SHAPES]
    cases += [("lstm", 32, 128, True), ("gru", 32, 128, True)]
    for kind, B, H, varlen in cases:
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
        m = cls(I, H, batch_first=True).to(dev).eval()
        x = torch.randn(B, T, I, device=dev)
        with torch.inference_mode():
            layer, why = fastseq_layer(torch, kind, m, x)
            kern = fastseq_kernel(kind, m)
            route = "layer" if layer is not None else "kernel"
            fs = layer if route == "layer" else kern
            if layer is None and (B, H) == SHAPES[0] and not varlen:
                print(f"  ({kind}: fastseq layer not usable here, timing the kernel: {why})")
            predicted, _ = choose_path(kind, B, H, H, H, False, 4, n_sm,
                                       smem_budget=optin_smem_budget(cupy.cuda.Device().id,
                                                                     "float32",
                                                                     allow_persistent_smem))
            ref = m(x)[0]
            if varlen:
                from torch.nn.utils.rnn import pack_padded_sequence
                L = torch.randint(T // 2, T + 1, (B,))
                L[0] = T
                packed = pack_padded_sequence(x, L, batch_first=True, enforce_sorted=False)
                Lc = cupy.asarray(L.numpy().astype(np.int64))
                Lt = L.to(dev)

                def f_fs():
                    return fs(x, lengths=Lt) if route == "layer" else kern(x, Lc)

                def f_fs_full():
                    return fs(x)

                if route == "layer":
                    try:
                        f_fs()
                    except Exception as exc:  # the layer's length interface differs: kernel
                        print(f"  ({kind}: layer(x, lengths=...) failed, timing the kernel: "
                              f"{type(exc).__name__}: {exc})")
                        route, fs = "kernel", kern

                def f_th():
                    return m(packed)
            else:
                def f_fs():
                    return fs(x)

                def f_th():
                    return m(x)
            record = []         # what ran, from the call itself (not the planner's prediction)
            if route == "layer":
                f_fs()
                path, plan = fs.last_path, None
            else:
                kern(x, Lc if varlen else None, record=record)
                path, plan = record[-1]["path"], record[-1]["plan"]
            peak_mib = peak_cupy_bytes(f_fs) / 2**20
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            f_th()
            torch.cuda.synchronize()
            torch_peak_mib = (torch.cuda.max_memory_allocated() - base) / 2**20
            err = None
            if not varlen:
                got = f_fs()
                got = got[0] if isinstance(got, tuple) else got
                got_t = got if isinstance(got, torch.Tensor) else torch.from_dlpack(got)
                err = float((got_t - ref).abs().max())
            fns = [f_fs, f_th] + ([f_fs_full] if varlen else [])
            ms = measure_pair(torch, fns, args.runs, args.warmup)
        row = dict(kind=kind, B=B, T=T, I=I, H=H, varlen=varlen, route=route, path=path,
                   predicted_path=predicted, plan=plan, fastseq_ms=ms[0], torch_ms=ms[1],
                   speedup=ms[1] / ms[0], max_abs_err=err, fastseq_peak_mib=peak_mib,
                   torch_peak_mib=torch_peak_mib)
        if varlen:
            row["fastseq_full_length_ms"] = ms[2]
        rows.append(row)
        tag = f"{kind.upper()} B={B:<3} H={H:<4}" + (" varlen" if varlen else "       ")
        extra = (f"  full-length fastseq {ms[2]:.3f} ms" if varlen
                 else f"  max|err| {err:.1e}")
        print(f"{tag}  {route}/{path:<10}  fastseq {ms[0]:8.3f} ms  cuDNN {ms[1]:8.3f} ms  "
              f"x{ms[1] / ms[0]:5.2f}{extra}  peak MiB {peak_mib:.1f} / {torch_peak_mib:.1f}",
              flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(device=status.name, rows=rows), fh, indent=1, default=str)


if __name__ == "__main__":
    main()
