"""GPU clustering figures for BENCHMARKS.md, in one call on a machine with a CUDA device.

    PYTHONPATH=. python3 asv_bench/device_cluster.py [--quick]

Times, with CUDA events (median of many runs after warm-up, TF32 off), fastseq beside its peers in
the same process:

- ``nearest_centers`` at n = 1,000,000, d = 128, k = 1,024 against the bare cuBLAS SGEMM of the
  same product (X @ C.T);
- one KMeans Lloyd iteration at that shape against the same loop in plain torch (matmul, argmin,
  index_add_) and against the SGEMM;
- one MiniBatchKMeans step of 65,536 rows against the torch equivalent;
- peak GPU memory in use during a Lloyd iteration at k = 16,384 (a counting allocator around
  CuPy's pool, not its growth) against its budget.

Prints a short table last. Fails at once, saying why, without a usable GPU.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from asv_bench._common import peak_cupy_bytes


def cuda_median_ms(fn, repeats=20, warmup=3):
    import cupy
    for _ in range(warmup):
        fn()
    cupy.cuda.get_current_stream().synchronize()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    times = []
    for _ in range(repeats):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop))
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    from fastseq._backend import gpu_status
    status = gpu_status()
    if not status.available:
        sys.exit(f"no usable CUDA device: {status.reason}")
    import cupy
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    import fastseq
    from fastseq.cluster._engine import CUDAEngine
    from fastseq.cluster._minibatch import minibatch_update
    reps = 5 if args.quick else 20
    rows = []
    n, d, k = 1_000_000, 128, 1024
    rng = cupy.random.RandomState(0)
    X = rng.standard_normal((n, d), dtype=cupy.float32)
    C = X[:k].copy()
    Ct = cupy.ascontiguousarray(C.T)
    t_gemm = cuda_median_ms(lambda: X @ Ct, reps)
    rows.append(("SGEMM X @ C.T (cuBLAS)", f"{n:,}x{d}x{k}", t_gemm, None))
    t_near = cuda_median_ms(lambda: fastseq.nearest_centers(X, C), reps)
    rows.append(("fastseq.nearest_centers", f"{n:,}x{d}x{k}", t_near, t_gemm))

    shift = X.mean(axis=0, dtype=np.float64).astype(np.float32)
    engine = CUDAEngine(X, cupy.ones(n, dtype=np.float64), shift)
    Cs64 = C.astype(np.float64) - shift.astype(np.float64)
    t_lloyd = cuda_median_ms(lambda: engine.lloyd_pass(Cs64), reps)
    rows.append(("fastseq Lloyd iteration", f"{n:,}x{d}x{k}", t_lloyd, t_gemm))

    Xt = torch.from_dlpack(X)
    Ctt = torch.from_dlpack(C).clone()

    def torch_lloyd():
        dist = (Xt * Xt).sum(1, keepdim=True) - 2 * Xt @ Ctt.T + (Ctt * Ctt).sum(1)
        labels = dist.argmin(1)
        sums = torch.zeros_like(Ctt).index_add_(0, labels, Xt)
        counts = torch.bincount(labels, minlength=k).clamp_min(1).unsqueeze(1)
        return sums / counts
    t_torch = cuda_median_ms(torch_lloyd, reps)
    rows.append(("torch Lloyd iteration (matmul+argmin+index_add)", f"{n:,}x{d}x{k}", t_torch,
                 t_gemm))

    b = 65_536
    batch_idx = cupy.random.RandomState(1).randint(0, n, b)
    counts = cupy.zeros(k, dtype=np.float64)
    state = {"Cs64": Cs64.copy()}

    def fast_step():
        from fastseq.cluster._engine import CUDAEngine as Engine
        Xb = cupy.ascontiguousarray(X[batch_idx])
        e = Engine(Xb, cupy.ones(b, dtype=np.float64), shift)
        _, _, sums, bc = e.lloyd_pass(state["Cs64"])
        minibatch_update(state["Cs64"], counts, sums, bc, cupy)
    t_mb = cuda_median_ms(fast_step, reps)
    rows.append(("fastseq MiniBatchKMeans step", f"{b:,}x{d}x{k}", t_mb, None))
    idx_t = torch.from_dlpack(batch_idx)
    cnt_t = torch.zeros(k, device="cuda")

    def torch_step():
        xb = Xt[idx_t]
        labels = ((xb * xb).sum(1, keepdim=True) - 2 * xb @ Ctt.T + (Ctt * Ctt).sum(1)).argmin(1)
        sums = torch.zeros_like(Ctt).index_add_(0, labels, xb)
        bc = torch.bincount(labels, minlength=k).float()
        total = cnt_t + bc
        upd = (Ctt * cnt_t[:, None] + sums) / total.clamp_min(1)[:, None]
        Ctt.copy_(torch.where((bc > 0)[:, None], upd, Ctt))
        cnt_t.copy_(total)
    t_mbt = cuda_median_ms(torch_step, reps)
    rows.append(("torch mini-batch step", f"{b:,}x{d}x{k}", t_mbt, None))

    k_big = 16_384
    C_big = X[:k_big].astype(np.float64) - shift.astype(np.float64)
    peak = peak_cupy_bytes(lambda: engine.lloyd_pass(C_big))
    print(f"Lloyd at k={k_big}: peak device memory {peak / 2**20:.0f} MiB beyond the data "
          f"(budget {fastseq._defaults.GPU_WORKING_MEMORY_MIB} MiB tile + outputs)")

    print(f"\ndevice: {status.name}; cupy {status.cupy_version}; torch {torch.__version__}")
    print(f"{'what':<52} {'shape':<20} {'ms':>9} {'x SGEMM':>8}")
    for what, shape, ms, ref in rows:
        ratio = f"{ms / ref:.2f}" if ref else ""
        print(f"{what:<52} {shape:<20} {ms:>9.3f} {ratio:>8}")
    print(f"Lloyd speedup over plain torch: {t_torch / t_lloyd:.2f}x; mini-batch step over torch: "
          f"{t_mbt / t_mb:.2f}x")


if __name__ == "__main__":
    main()
