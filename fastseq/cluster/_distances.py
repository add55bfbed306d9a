"""Public distance kernels: ``pairwise_sqdist`` and ``nearest_centers``.

This module validates, picks the backend and the strategy, sizes chunks from the memory budget,
and hands results back in the caller's array type. The arithmetic lives in ``_nearest_cpu.py``
and ``_nearest_cuda.py``.
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from .._threads import n_workers, single_threaded_blas
from .._validation import check_array, check_n_features, check_working_memory

# Up to this many features, distances are summed from differences: a GEMM cannot help.
DIRECT_MAX_FEATURES = 8
# Default scratch budget on the GPU (MiB) for the (rows, k) product tile.
GPU_WORKING_MEMORY_MIB = 1024
# On the CPU the (k, rows) tile should stay in the core's L2 cache.
CPU_TILE_BYTES = 512 * 1024
CPU_MIN_ROWS, CPU_MAX_ROWS = 128, 1024


def cpu_rows_per_chunk(k: int, itemsize: int, working_memory=None) -> int:
    """Rows per CPU chunk: the (k, rows) tile fits in L2 (and in the budget when one is given).

    Without a budget this is independent of the thread count, so results do not depend on it.
    A ``working_memory`` budget is shared by the workers, so the chunk (and with it the order of
    the float64 sums) then depends on the thread count: reproducible for a fixed thread count.
    """
    rows = CPU_TILE_BYTES // max(1, k * itemsize)
    rows = 1 << max(0, int(rows).bit_length() - 1)  # a power of two
    rows = min(CPU_MAX_ROWS, max(CPU_MIN_ROWS, rows))
    if working_memory is not None:
        budget_rows = int(working_memory * 2**20) // max(1, k * itemsize * n_workers())
        rows = min(rows, max(1, budget_rows))
    return rows


def gpu_rows_per_chunk(k: int, d: int, itemsize: int, working_memory=None) -> int:
    """Rows per GPU chunk: the (rows, k) tile plus the shifted rows fit in the budget."""
    budget = (GPU_WORKING_MEMORY_MIB if working_memory is None else working_memory) * 2**20
    return max(1, int(budget // ((k + d) * itemsize)))


def _prepare(X, Y, device, working_memory, y_name):
    working_memory = check_working_memory(working_memory)
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
        torch (CPU or CUDA).
    centers : array of shape (k, d), converted to X's dtype.
    device : "auto" | "cpu" | "cuda".
    working_memory : MiB of scratch space for the distance tiles (None: cache-sized tiles on the
        CPU, 1024 MiB on the GPU). The n x k matrix is never formed.

    Returns
    -------
    labels : (n,) int64, the lowest index among exact ties.
    sqdist : (n,) float64, squared distance to that center, summed from differences in float64.
    Both come back in the caller's array type (NumPy, CuPy or torch) and on its device.
    """
    X, C, device, origin, working_memory = _prepare(X, centers, device, working_memory, "centers")
    labels, sqdist = nearest_centers_array(X, C, device, working_memory)
    return _backend.wrap(labels, origin), _backend.wrap(sqdist, origin)


def nearest_centers_array(X, C, device, working_memory=None):
    """:func:`nearest_centers` on validated, contiguous arrays already on ``device``."""
    direct = X.shape[1] <= DIRECT_MAX_FEATURES
    if device == "cuda":
        from ._nearest_cuda import nearest_centers_cuda
        import cupy
        rows = gpu_rows_per_chunk(C.shape[0], X.shape[1], X.dtype.itemsize, working_memory)
        return nearest_centers_cuda(X, C, rows, cupy, direct=direct)
    from . import _lloyd_cpu
    from ._engine import layout
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int64)
    sqdist = np.empty(n, dtype=np.float64)
    rows, slots = layout(n, C.shape[0], 1, X.dtype.itemsize, working_memory)
    Cs, cnorm, shift = shifted_centers(C)
    unused = np.empty((1, 1, 1))
    with single_threaded_blas():
        _lloyd_cpu.lloyd_pass(X, unused[0, 0], C, Cs, cnorm, shift, direct, rows, slots, False,
                              labels, sqdist, unused, unused[0])
    return labels, sqdist


def shifted_centers(C):
    """(Cs, cnorm, shift): centers shifted by their mean, their squared norms (summed in float64)
    and the shift, all in C's dtype. Shifting X and C alike keeps ||x||^2 - 2x.c + ||c||^2
    accurate in float32 far from the origin."""
    shift = C.mean(axis=0, dtype=np.float64).astype(C.dtype)
    Cs = np.ascontiguousarray(C - shift)
    cnorm = np.einsum("ij,ij->i", Cs, Cs, dtype=np.float64).astype(C.dtype)
    return Cs, cnorm, shift


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
    if device == "cuda":
        from ._nearest_cuda import pairwise_sqdist_cuda
        import cupy
        rows = gpu_rows_per_chunk(Y.shape[0], X.shape[1], X.dtype.itemsize, working_memory)
        out = pairwise_sqdist_cuda(X, Y, cupy, rows)
    else:
        out = _pairwise_cpu(X, Y, working_memory)
    if same:
        xp = _backend.get_namespace(device)
        xp.fill_diagonal(out, 0)
    return _backend.wrap(out, origin)


def _pairwise_cpu(X, Y, working_memory):
    from . import _nearest_cpu
    out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    rows = cpu_rows_per_chunk(Y.shape[0], X.dtype.itemsize, working_memory)
    if X.shape[1] <= DIRECT_MAX_FEATURES:
        _nearest_cpu.pairwise_direct(X, Y, rows, n_workers(), out)
        return out
    shift = Y.mean(axis=0, dtype=np.float64).astype(X.dtype)
    Ys = Y - shift
    ynorm = np.einsum("ij,ij->i", Ys, Ys, dtype=np.float64).astype(X.dtype)
    with single_threaded_blas():
        _nearest_cpu.pairwise_gemm(X, np.ascontiguousarray(Ys.T), ynorm, shift, rows, n_workers(),
                                   out)
    return out
