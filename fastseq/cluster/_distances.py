"""Public distance kernels: ``pairwise_sqdist`` and ``nearest_centers``.

Each public function validates, resolves the device and hands results back in the caller's array
type; behind it a private ``*_array`` function does the work on validated arrays already on the
device, for the estimators to call without validating twice. Nearest centers go through the same
engine pass as the K-means fits (``_engine.py``); the full distance matrix through the kernels of
``_nearest_cpu.py`` / ``_nearest_cuda.py``. Chunk sizes come from ``_chunking.py``.
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from .._defaults import NEAREST_DIRECT_MAX_FEATURES
from .._threads import n_workers, parallel_calls, single_threaded_blas
from .._validation import (check_array, check_n_features, check_sparse, check_working_memory,
                           is_sparse)
from ._chunking import cpu_rows_per_chunk, gpu_rows_per_chunk
from ._engine import make_engine


def _prepare(X, Y, device, working_memory, y_name, sparse_x=False):
    working_memory = check_working_memory(working_memory)
    if sparse_x and is_sparse(X):  # CSR kernels, on the CPU
        if device == "cuda":
            raise ValueError("device: sparse X runs on the CPU only; expected 'auto' or 'cpu', "
                             "got 'cuda' (or pass a dense array)")
        X = check_sparse(X, "X")
        Y = _backend.to_host(check_array(_backend.unwrap(Y)[0], y_name, dtype=X.dtype))
        check_n_features(Y, X.shape[1], y_name, "X")
        return X, Y, "cpu", _backend.Origin("numpy"), working_memory
    X, origin = _backend.unwrap(X)
    Y, _ = _backend.unwrap(Y)
    device = _backend.resolve_device(device, X, Y)
    X = check_array(X, "X")
    Y = check_array(Y, y_name, dtype=X.dtype)
    check_n_features(Y, X.shape[1], y_name, "X")
    X = _backend.to_device(X, device)
    Y = _backend.to_device(Y, device)
    return X, Y, device, origin, working_memory


def nearest_centers(X, centers, *, device="auto", working_memory=None):
    """Index of, and squared Euclidean distance to, the nearest center of every row.

    Parameters
    ----------
    X : array of shape (n, d), float32/float64 (other real dtypes become float64); NumPy, CuPy or
        torch (CPU or CUDA), or a scipy sparse matrix (CSR/CSC; run on the CPU).
    centers : dense array of shape (k, d), converted to X's dtype.
    device : "auto" | "cpu" | "cuda".
    working_memory : MiB of scratch space for the distance tiles (None: cache-sized tiles on the
        CPU, 1024 MiB on the GPU). The n x k matrix is never formed.

    Returns
    -------
    labels : (n,) int64, the lowest index among exact ties.
    sqdist : (n,) float64, squared distance to that center, summed from differences in float64.
    Both come back in the caller's array type (NumPy, CuPy or torch) and on its device.
    """
    X, C, device, origin, working_memory = _prepare(X, centers, device, working_memory, "centers",
                                                    sparse_x=True)
    labels, sqdist = nearest_centers_array(X, C, device, working_memory)
    return _backend.wrap(labels, origin), _backend.wrap(sqdist, origin)


def nearest_centers_array(X, C, device, working_memory=None):
    """:func:`nearest_centers` of validated, C-contiguous X (n, d) and C (k, d) of one dtype,
    already on ``device``: (labels (n,) int64, sqdist (n,) float64) on that device.

    X and C are shifted by the centers' mean (cheap, and as good as the data's mean for the
    accuracy of ||x||^2 - 2 x.c + ||c||^2 near the centers) inside the engine's pass.
    """
    shift = C.mean(axis=0, dtype=np.float64).astype(C.dtype)
    return make_engine(X, None, shift, device, working_memory).assign(C)


def pairwise_sqdist(X, Y=None, *, device="auto", working_memory=None):
    """Squared Euclidean distances between the rows of X and the rows of Y.

    Parameters
    ----------
    X : array of shape (n, d); NumPy, CuPy or torch. float32 stays float32, float64 stays float64,
        other real dtypes become float64.
    Y : array of shape (m, d), converted to X's dtype; None means X (the diagonal is then exactly 0).
    device : "auto" | "cpu" | "cuda".
    working_memory : MiB of scratch space per chunk (None: package default).

    Returns
    -------
    (n, m) array of X's dtype, clamped at 0, in the caller's array type. Computed on data shifted
    by Y's mean so that float32 data far from the origin keeps its accuracy.
    """
    same = Y is None or Y is X
    X, Y, device, origin, working_memory = _prepare(X, X if Y is None else Y, device,
                                                    working_memory, "Y")
    out = pairwise_sqdist_array(X, Y, device, working_memory)
    if same:
        _backend.get_namespace(device).fill_diagonal(out, 0)
    return _backend.wrap(out, origin)


def pairwise_sqdist_array(X, Y, device, working_memory=None):
    """:func:`pairwise_sqdist` of validated, C-contiguous X (n, d) and Y (m, d) of one dtype,
    already on ``device``: (n, m) in X's dtype on that device."""
    if is_sparse(X):
        from ._engine_sparse import SparseCPUEngine
        return SparseCPUEngine(X, None, np.zeros(X.shape[1], X.dtype)).sqdist(Y)
    if device == "cuda":
        from ._nearest_cuda import pairwise_sqdist_cuda
        import cupy
        rows = gpu_rows_per_chunk(Y.shape[0], X.shape[1], X.dtype.itemsize, working_memory)
        return pairwise_sqdist_cuda(X, Y, cupy, rows)
    from . import _nearest_cpu
    out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    rows = cpu_rows_per_chunk(Y.shape[0], X.dtype.itemsize, working_memory)
    if X.shape[1] <= NEAREST_DIRECT_MAX_FEATURES:
        with parallel_calls():
            _nearest_cpu.pairwise_direct(X, Y, rows, n_workers(), out)
        return out
    shift = Y.mean(axis=0, dtype=np.float64).astype(X.dtype)
    Ys = Y - shift
    ynorm = np.einsum("ij,ij->i", Ys, Ys, dtype=np.float64).astype(X.dtype)
    with single_threaded_blas():
        _nearest_cpu.pairwise_gemm(X, np.ascontiguousarray(Ys.T), ynorm, shift, rows, n_workers(),
                                   out)
    return out
