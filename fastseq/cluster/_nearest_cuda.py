"""CUDA kernels: nearest center per row, and the full squared-distance matrix.

The dense product runs in cuBLAS (``xp.matmul`` on CuPy arrays; TF32 stays off unless the user
turned it on in CuPy themselves). The fused min/argmin over each row of the product tile, and the
exact float64 recomputation of the winner's distance, is a Numba CUDA kernel. Shared-memory
reductions (no warp shuffles) keep it runnable in the CUDA simulator, where ``xp`` is NumPy.

This module is imported only when a GPU path (or the simulator lane) asks for it; kernels are
compiled on first launch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64, int64

from .._backend import numba_device_array
from ._cuda_launch import LANES, ROWS_PER_BLOCK, check_grid, direct_grid


@cuda.jit
def argmin_rows(tile, cnorm, X, C, start, labels, sqdist):
    """For each row r of tile (m, k): argmin_j cnorm[j] - 2 tile[r, j] (lowest j on ties), then
    sqdist = sum_t (X[start + r, t] - C[j, t])^2 in float64. Block = (LANES, ROWS_PER_BLOCK)."""
    lane = cuda.threadIdx.x
    local_row = cuda.threadIdx.y
    r = cuda.blockIdx.x * ROWS_PER_BLOCK + local_row
    m, k = tile.shape
    best_val = cuda.shared.array((ROWS_PER_BLOCK, LANES), dtype=float64)
    best_idx = cuda.shared.array((ROWS_PER_BLOCK, LANES), dtype=int64)
    v_best = math.inf
    j_best = 0
    if r < m:
        for j in range(lane, k, LANES):
            v = cnorm[j] - 2 * tile[r, j]
            if v < v_best:
                v_best = v
                j_best = j
    best_val[local_row, lane] = v_best
    best_idx[local_row, lane] = j_best
    cuda.syncthreads()
    step = LANES // 2
    while step > 0:
        if lane < step:
            ov = best_val[local_row, lane + step]
            oj = best_idx[local_row, lane + step]
            mv = best_val[local_row, lane]
            if ov < mv or (ov == mv and oj < best_idx[local_row, lane]):
                best_val[local_row, lane] = ov
                best_idx[local_row, lane] = oj
        cuda.syncthreads()
        step //= 2
    j = best_idx[local_row, 0]
    partial = 0.0
    if r < m:
        for t in range(lane, X.shape[1], LANES):
            diff = float64(X[start + r, t]) - float64(C[j, t])
            partial += diff * diff
    cuda.syncthreads()
    best_val[local_row, lane] = partial
    cuda.syncthreads()
    step = LANES // 2
    while step > 0:
        if lane < step:
            best_val[local_row, lane] += best_val[local_row, lane + step]
        cuda.syncthreads()
        step //= 2
    if lane == 0 and r < m:
        labels[start + r] = j
        sqdist[start + r] = best_val[local_row, 0]


@cuda.jit
def nearest_direct(X, C, labels, sqdist):
    """One thread per row: distances from differences (small d), lowest index on ties."""
    i = cuda.grid(1)
    if i >= X.shape[0]:
        return
    d = X.shape[1]
    v_best = math.inf
    j_best = 0
    for j in range(C.shape[0]):
        s = 0.0
        for t in range(d):
            diff = float64(X[i, t]) - float64(C[j, t])
            s += diff * diff
        if s < v_best:
            v_best = s
            j_best = j
    labels[i] = j_best
    sqdist[i] = v_best


def _launch_kwargs(xp):
    """Run Numba kernels on CuPy's current stream so they order correctly with cuBLAS calls."""
    if xp is np:
        return None
    return cuda.external_stream(xp.cuda.get_current_stream().ptr)


def nearest_direct_cuda(X, C, xp):
    """labels (n,) int64 and sqdist (n,) float64 for small d: one thread per row sums its
    distance to every center from differences in float64 (lowest index on ties).

    X (n, d), C (k, d): C-contiguous float32/float64 arrays of the namespace ``xp`` (CuPy; NumPy
    under the CUDA simulator).
    """
    stream = _launch_kwargs(xp)
    n = X.shape[0]
    labels = xp.empty(n, dtype=np.int64)
    sqdist = xp.empty(n, dtype=np.float64)
    if n:
        _launch(nearest_direct, *direct_grid(n), stream, X, C, labels, sqdist)
    return labels, sqdist


def assign_chunk_cuda(X, C, Cs_t, cnorm, shift, start, stop, labels, sqdist, xp, stream,
                      grid_block):
    """Rows start..stop: the shifted cuBLAS product with Cs_t = (C - shift).T (d, k), then the
    fused argmin kernel writes labels and exact float64 squared distances to C. ``grid_block``
    is the chunk's argmin launch (``_cuda_launch.lloyd_chunk_grids``)."""
    tile = xp.matmul(X[start:stop] - shift, Cs_t)
    _launch(argmin_rows, *grid_block, stream, tile, cnorm, X, C, start, labels, sqdist)


def _launch(kernel, grid, block, stream, *args):
    """Launch ``kernel`` on ``stream`` (None: the default) after checking the grid against the
    device limits; CuPy arrays are handed over as Numba views without a stream synchronisation
    (``_backend.numba_device_array``)."""
    grid = check_grid(grid, block, what=getattr(kernel, "__name__", "kernel"))
    args = [numba_device_array(a) for a in args]
    if stream is None:
        kernel[grid, block](*args)
    else:
        kernel[grid, block, stream](*args)


def pairwise_sqdist_cuda(X, Y, xp, rows_per_chunk):
    """(n, m) squared distances in X's dtype: shifted cuBLAS GEMM per chunk, clamped at 0."""
    shift = Y.mean(axis=0, dtype=np.float64).astype(X.dtype)
    Ys = Y - shift
    ynorm = (Ys.astype(np.float64) ** 2).sum(axis=1).astype(X.dtype)
    Ys_t = xp.ascontiguousarray(Ys.T)
    out = xp.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    for start in range(0, X.shape[0], rows_per_chunk):
        stop = min(start + rows_per_chunk, X.shape[0])
        Xs = X[start:stop] - shift
        xnorm = (Xs.astype(np.float64) ** 2).sum(axis=1).astype(X.dtype)
        block = xp.matmul(Xs, Ys_t)
        block *= -2
        block += xnorm[:, None]
        block += ynorm[None, :]
        xp.maximum(block, 0, out=out[start:stop])
    return out
