"""KMeans' CUDA engine: simulator lane (tiny shapes, NumPy as the array module), compile lane
(PTX for sm_90) and GPU lane (CuPy on a real device, against the CPU fit)."""

import numpy as np
import pytest

import fastseq
from naive import blobs


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lloyd_on_cuda_engine_matches_cpu_engine(rng, dtype):
    from fastseq.cluster._engine import CPUEngine, CUDAEngine
    from fastseq.cluster._lloyd import lloyd
    X = blobs(rng, 24, 5, 3, spread=10.0, dtype=dtype)[0] + 1e3
    w = rng.uniform(0.5, 2.0, len(X))
    shift = X.mean(axis=0, dtype=np.float64).astype(dtype)
    init = X[:3].astype(np.float64) - shift.astype(np.float64)
    cpu = lloyd(CPUEngine(X, w, shift), init, max_iter=5, tol=0)
    gpu = lloyd(CUDAEngine(X, w, shift, xp=np), init, max_iter=5, tol=0)
    np.testing.assert_array_equal(gpu.labels, cpu.labels)
    np.testing.assert_allclose(gpu.Cs64, cpu.Cs64, rtol=1e-12, atol=1e-9)
    assert gpu.inertia == pytest.approx(cpu.inertia, rel=1e-12)
    assert gpu.n_iter == cpu.n_iter


@pytest.mark.cudasim
def test_plusplus_on_cuda_engine_matches_cpu_engine(rng):
    from fastseq.cluster._engine import CPUEngine, CUDAEngine
    from fastseq.cluster._kmeans_plusplus import plusplus
    X = blobs(rng, 20, 3, 4, spread=10.0, dtype=np.float64)[0]
    w = np.ones(len(X))
    shift = X.mean(axis=0)
    seed = int(rng.integers(1 << 30))
    _, cpu_idx = plusplus(CPUEngine(X, w, shift), 4, np.random.RandomState(seed))
    _, gpu_idx = plusplus(CUDAEngine(X, w, shift, xp=np), 4, np.random.RandomState(seed))
    np.testing.assert_array_equal(gpu_idx, cpu_idx)


@pytest.mark.cudasim
def test_empty_cluster_relocation_on_cuda_engine(rng):
    from fastseq.cluster._engine import CUDAEngine
    from fastseq.cluster._lloyd import lloyd
    X = blobs(rng, 16, 2, 2, spread=10.0, dtype=np.float64)[0]
    shift = X.mean(axis=0)
    init = np.vstack([X[:2], X.max(0) + 100]) - shift
    out = lloyd(CUDAEngine(X, np.ones(len(X)), shift, xp=np), init, max_iter=1, tol=0)
    far = ((X[:, None] - X[None, :2]) ** 2).sum(-1).min(1).argmax()
    assert np.isfinite(out.Cs64).all()
    np.testing.assert_allclose(out.Cs64[2], X[far] - shift, rtol=1e-12)


@pytest.mark.compile
def test_lloyd_kernels_compile_for_sm90():
    cuda = pytest.importorskip("numba.cuda")
    from numba import float32, float64, int64
    from fastseq.cluster._lloyd_cuda import piece_sums, sqdist_to_candidates
    try:
        ptx, _ = cuda.compile_ptx(piece_sums.py_func,
                                  (float32[:, ::1], float64[::1], int64[::1], int64, int64[::1],
                                   int64[::1], float32[::1], float64[:, ::1], float64[::1]),
                                  cc=(9, 0))
        ptx2, _ = cuda.compile_ptx(sqdist_to_candidates.py_func,
                                   (float32[:, ::1], float32[::1], float32[:, ::1], int64, int64,
                                    float64[:, ::1]), cc=(9, 0))
    except Exception as exc:  # no NVVM/NVRTC on this machine
        if "NVVM" in str(exc) or "nvrtc" in str(exc).lower():
            pytest.skip(f"no CUDA compiler available: {exc}")
        raise
    assert ".target sm_90" in ptx and ".target sm_90" in ptx2


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_fit_matches_cpu_fit(rng, dtype):
    cupy = pytest.importorskip("cupy")
    X = blobs(rng, 50_000, 32, 20, spread=10.0, dtype=dtype)[0] + 1e4
    init = X[rng.choice(len(X), 20, replace=False)]
    cpu = fastseq.KMeans(20, init=init, device="cpu").fit(X)
    gpu = fastseq.KMeans(20, init=init, device="cuda").fit(cupy.asarray(X))
    assert gpu.device_ == "cuda" and isinstance(gpu.cluster_centers_, np.ndarray)
    assert (gpu.labels_ == cpu.labels_).mean() > 0.999
    assert gpu.inertia_ == pytest.approx(cpu.inertia_, rel=1e-4)
    pp = fastseq.KMeans(20, random_state=0, device="cuda").fit(X)
    assert pp.inertia_ <= cpu.inertia_ * 1.5
    labels = gpu.predict(cupy.asarray(X))
    assert isinstance(labels, cupy.ndarray)
