"""The CUDA distance kernels: simulator lane (tiny shapes, NumPy as the array module), compile lane
(PTX for sm_90, no GPU needed) and GPU lane (CuPy on a real device)."""

import numpy as np
import pytest

import fastseq
import naive


@pytest.mark.cudasim
@pytest.mark.parametrize("d", [3, 40])
def test_nearest_kernel_in_simulator(rng, d):
    # the GPU engine's assignment: the direct kernel for small d, else the shifted product in
    # chunks of 9 rows (a budget of 9 rows of the (rows, k) tile plus the shifted rows)
    from fastseq.cluster._engine import CUDAEngine
    X = rng.standard_normal((21, d)).astype(np.float32) + 100
    C = np.vstack([X[:4], X[:4]]) + 0.01  # duplicated centers: the lowest index must win
    shift = C.mean(axis=0, dtype=np.float64).astype(np.float32)
    working_memory = 9 * (C.shape[0] + d) * 4 / 2**20
    engine = CUDAEngine(X, None, shift, working_memory, xp=np)
    labels, sqdist = engine.assign(C)
    D = naive.sqdist(X, C)
    np.testing.assert_array_equal(labels, D.argmin(1))
    assert labels.max() < 4
    np.testing.assert_allclose(sqdist, D.min(1), rtol=1e-9)


@pytest.mark.cudasim
def test_pairwise_kernel_in_simulator(rng):
    from fastseq.cluster._nearest_cuda import pairwise_sqdist_cuda
    X = rng.standard_normal((13, 5)).astype(np.float32)
    Y = rng.standard_normal((7, 5)).astype(np.float32)
    out = pairwise_sqdist_cuda(X, Y, np, rows_per_chunk=4)
    np.testing.assert_allclose(out, naive.sqdist(X, Y), rtol=1e-5, atol=1e-5)


@pytest.mark.compile
def test_kernels_compile_for_sm90():
    cuda = pytest.importorskip("numba.cuda")
    from numba import float32, float64, int64
    try:
        from fastseq.cluster._nearest_cuda import argmin_rows, nearest_direct as direct
        sig_argmin = (float32[:, ::1], float32[::1], float32[:, ::1], float32[:, ::1], int64,
                      int64[::1], float64[::1])
        ptx, _ = cuda.compile_ptx(argmin_rows.py_func, sig_argmin, cc=(9, 0))
        ptx2, _ = cuda.compile_ptx(direct.py_func, (float32[:, ::1], float32[:, ::1], int64[::1],
                                                     float64[::1]), cc=(9, 0))
    except Exception as exc:  # no NVVM/NVRTC on this machine
        if "NVVM" in str(exc) or "nvrtc" in str(exc).lower() or "libNVVM" in str(exc):
            pytest.skip(f"no CUDA compiler available: {exc}")
        raise
    assert ".target sm_90" in ptx and ".target sm_90" in ptx2


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [2, 64])
def test_gpu_matches_cpu(rng, dtype, d):
    cupy = pytest.importorskip("cupy")
    X = rng.standard_normal((20_000, d)).astype(dtype) + 1e4
    C = X[rng.choice(20_000, 300, replace=False)] + 0.5
    labels, sqdist = fastseq.nearest_centers(cupy.asarray(X), cupy.asarray(C))
    assert isinstance(labels, cupy.ndarray)
    cpu_labels, cpu_sq = fastseq.nearest_centers(X, C, device="cpu")
    assert (labels.get() == cpu_labels).mean() > 0.999
    P = fastseq.pairwise_sqdist(X[:500], C, device="cuda")
    assert isinstance(P, np.ndarray)
    np.testing.assert_allclose(P, naive.sqdist(X[:500], C), rtol=1e-3, atol=1e-2)
