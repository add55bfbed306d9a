"""Helpers shared by the asv benchmark modules: device availability and data generation."""

import numpy as np

DEVICES = ["cpu", "cuda"]


def require(device):
    """Raise NotImplementedError (asv's way to skip) when ``device`` is not usable here."""
    if device == "cuda":
        from fastseq._backend import gpu_status
        status = gpu_status()
        if not status.available:
            raise NotImplementedError(f"no usable CUDA device: {status.reason}")


def blobs(n, d, k, dtype=np.float32, seed=0, spread=10.0):
    """Well-separated Gaussian blobs: (X (n, d), true centers (k, d)), deterministic per seed."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * spread
    X = centers[rng.integers(0, k, n)] + rng.standard_normal((n, d))
    return X.astype(dtype), centers.astype(dtype)


def to_device(a, device):
    if device == "cuda":
        import cupy
        return cupy.asarray(a)
    return a


def sync(device):
    if device == "cuda":
        import cupy
        cupy.cuda.get_current_stream().synchronize()


def peak_cupy_bytes(fn):
    """Bytes of CuPy's default memory pool in use at the worst moment of ``fn()``, beyond what
    was in use before: what a call needs at its peak (pool growth would count cached blocks and
    miss reuse). Allocations are observed through a counting allocator around the pool."""
    import cupy
    pool = cupy.get_default_memory_pool()
    cupy.cuda.get_current_stream().synchronize()
    base = pool.used_bytes()
    peak = [base]

    def counting_malloc(size):
        mem = pool.malloc(size)
        peak[0] = max(peak[0], pool.used_bytes())
        return mem

    cupy.cuda.set_allocator(counting_malloc)
    try:
        fn()
        cupy.cuda.get_current_stream().synchronize()
    finally:
        cupy.cuda.set_allocator(pool.malloc)
    return peak[0] - base
