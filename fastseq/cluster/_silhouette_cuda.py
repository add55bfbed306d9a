"""CUDA kernels for the silhouette: the twin of ``_silhouette_cpu.py``.

The driver sorts the points by cluster (so every cluster is a contiguous run ``offsets[c]`` ..
``offsets[c + 1]`` of rows) and hands over float64 data. Per chunk of rows:

- GEMM strategy (large d): cuBLAS computes the (m, n) product tile ``X[chunk] @ X.T`` (``xp.matmul``
  on CuPy arrays, float64, so TF32 never applies); the Numba CUDA kernel ``segment_sums_gemm``
  turns it into distances, ``sqrt(max(|x_i|^2 + |x_j|^2 - 2 x_i.x_j, 0))`` (a row's distance to
  itself counts as exactly 0), and sums them per (row, cluster) pair;
- direct strategy (small d): ``segment_sums_direct`` sums the squared distance from differences,
  no product tile;
- ``reduce_rows`` then takes, per row, the summed distance to its own cluster and the smallest
  mean distance to another cluster.

One block of ``lanes`` threads per (row, cluster) pair reads the pair's run of columns coalesced
and sums it with a shared-memory tree reduction (no warp shuffles), so the kernels also run in the
CUDA simulator, where ``xp`` is NumPy. The lane count is a compile-time constant of
:func:`kernels` (128 on a GPU; the simulator tests use a handful, since it runs one Python thread
per GPU thread). This module is imported only when a GPU path (or the simulator lane) asks for
it; kernels compile on first launch. The block reduction is written out in each kernel rather
than called as a device function, so that ``compile_ptx`` builds them without a CUDA driver.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float64

from ._cuda_launch import silhouette_chunk_grids
from ._nearest_cuda import _launch, _launch_kwargs

LANES = 128  # threads per (row, cluster) block on a GPU; a power of two


@functools.lru_cache(maxsize=None)
def kernels(lanes=LANES):
    """(segment_sums_gemm, segment_sums_direct, reduce_rows) for blocks of ``lanes`` threads."""
    if lanes < 1 or lanes & (lanes - 1):
        raise ValueError(f"lanes: expected a power of two, got {lanes}")

    @cuda.jit
    def segment_sums_gemm(tile, norms, start, offsets, sums):
        """sums[r, c] = sum over j in cluster c of sqrt(max(norms[start + r] + norms[j]
        - 2 tile[r, j], 0)), the j == start + r term counting 0. tile (m, n) float64; one block
        per (r, c), blocks numbered r * k + c."""
        shared = cuda.shared.array(lanes, dtype=float64)
        lane = cuda.threadIdx.x
        k = sums.shape[1]
        r = cuda.blockIdx.x // k
        c = cuda.blockIdx.x - r * k
        i = start + r
        xn = norms[i]
        acc = 0.0
        for j in range(offsets[c] + lane, offsets[c + 1], lanes):
            v = xn + norms[j] - 2.0 * tile[r, j]
            if v > 0.0 and j != i:
                acc += math.sqrt(v)
        shared[lane] = acc  # tree reduction over the block (inlined: see the module note)
        cuda.syncthreads()
        step = lanes // 2
        while step > 0:
            if lane < step:
                shared[lane] += shared[lane + step]
            cuda.syncthreads()
            step //= 2
        if lane == 0:
            sums[r, c] = shared[0]

    @cuda.jit
    def segment_sums_direct(X, start, offsets, sums):
        """sums[r, c] = sum over j in cluster c of |X[start + r] - X[j]|, summed from
        differences (small d). One block per (r, c), blocks numbered r * k + c."""
        shared = cuda.shared.array(lanes, dtype=float64)
        lane = cuda.threadIdx.x
        k = sums.shape[1]
        r = cuda.blockIdx.x // k
        c = cuda.blockIdx.x - r * k
        i = start + r
        acc = 0.0
        for j in range(offsets[c] + lane, offsets[c + 1], lanes):
            s = 0.0
            for t in range(X.shape[1]):
                diff = X[i, t] - X[j, t]
                s += diff * diff
            acc += math.sqrt(s)
        shared[lane] = acc  # tree reduction over the block (inlined: see the module note)
        cuda.syncthreads()
        step = lanes // 2
        while step > 0:
            if lane < step:
                shared[lane] += shared[lane + step]
            cuda.syncthreads()
            step //= 2
        if lane == 0:
            sums[r, c] = shared[0]

    return segment_sums_gemm, segment_sums_direct, reduce_rows


@cuda.jit
def reduce_rows(sums, start, labels, counts, intra, inter):
    """One thread per chunk row r: intra[start + r] = sums[r, own] and inter[start + r] = min over
    other clusters c of sums[r, c] / counts[c]."""
    r = cuda.grid(1)
    if r >= sums.shape[0]:
        return
    own = labels[start + r]
    best = math.inf
    for c in range(sums.shape[1]):
        if c != own:
            v = sums[r, c] / counts[c]
            if v < best:
                best = v
    intra[start + r] = sums[r, own]
    inter[start + r] = best


def silhouette_sums_cuda(X, labels, counts, gemm, rows_per_chunk, xp, *, lanes=LANES):
    """(intra, inter), each (n,) float64 on X's device; see ``_silhouette_cpu.silhouette_sums``.

    X (n, d) float64 C-contiguous, sorted by cluster and centered when ``gemm``; labels (n,) int64
    non-decreasing; counts (k,) int64, all > 0; arrays of the namespace ``xp`` (CuPy; NumPy under
    the CUDA simulator). ``rows_per_chunk`` bounds the (m, n) product tile and the (m, k) sums.
    """
    seg_gemm, seg_direct, reduce = kernels(lanes)
    stream = _launch_kwargs(xp)
    n = X.shape[0]
    k = counts.shape[0]
    offsets = xp.zeros(k + 1, dtype=np.int64)
    offsets[1:] = xp.cumsum(counts)
    intra = xp.empty(n, dtype=np.float64)
    inter = xp.empty(n, dtype=np.float64)
    norms = (X * X).sum(axis=1)
    Xt = xp.ascontiguousarray(X.T) if gemm else None
    for start in range(0, n, rows_per_chunk):
        m = min(rows_per_chunk, n - start)
        sums = xp.empty((m, k), dtype=np.float64)
        grids = silhouette_chunk_grids(m, k, lanes)
        if gemm:
            tile = xp.matmul(X[start:start + m], Xt)
            _launch(seg_gemm, *grids["segment_sums"], stream, tile, norms, start, offsets, sums)
        else:
            _launch(seg_direct, *grids["segment_sums"], stream, X, start, offsets, sums)
        _launch(reduce, *grids["reduce_rows"], stream, sums, start, labels, counts, intra, inter)
    return intra, inter
