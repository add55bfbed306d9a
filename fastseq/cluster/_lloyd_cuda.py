"""CUDA kernels for Lloyd's K-means and the k-means++ step (twins of ``_lloyd_cpu.py``).

Per chunk of rows: cuBLAS computes the shifted product (TF32 stays off), the fused argmin kernel of
``_nearest_cuda`` picks each row's center and its exact float64 distance, and the centroid update
adds each row's weighted shifted coordinates to its cluster's float64 sums. Everything stays on
the device; nothing returns to the host per chunk.

The update uses no atomics (one float64 atomic per (row, feature) serialises on the hot clusters
and makes the sums depend on the order the hardware applies them in). Instead the chunk's rows
are sorted by label (on the unique key ``label * m + row``, so the order is fixed by the labels
alone), each cluster's run of sorted rows is cut into pieces of ``PIECE_ROWS`` rows,
:func:`piece_sums` sums every piece sequentially, and :func:`reduce_pieces` adds a cluster's
pieces in order to its running sums. Every addition happens in an order fixed by the data, so a
GPU pass is bit-identical run after run. Grids come from ``_cuda_launch`` (rows on
``blockIdx.x``, checked against the device limits).
"""

from __future__ import annotations

import numpy as np
from numba import cuda, float64

from ._cuda_launch import FEATURE_THREADS, PIECE_ROWS, candidate_grid, lloyd_chunk_grids
from ._nearest_cuda import _launch, _launch_kwargs, assign_chunk_cuda


@cuda.jit
def piece_sums(X, weights, order, start, bounds, piece_offsets, shift, psums, pweights):
    """Piece b = blockIdx.x of the sorted rows: psums[b, t] = sum of w[r] * (X[r, t] - shift[t])
    and pweights[b] = sum of w[r], summed in sorted order, over the rows r = start + order[i] of
    the piece. Cluster j owns pieces piece_offsets[j]..piece_offsets[j + 1] and sorted rows
    bounds[j]..bounds[j + 1]; piece p of j holds PIECE_ROWS of them from bounds[j] + p*PIECE_ROWS.
    Grid (pieces (upper bound), feature tiles); block FEATURE_THREADS."""
    b = cuda.blockIdx.x
    k = bounds.shape[0] - 1
    if b >= piece_offsets[k]:
        return
    lo = 0
    hi = k - 1
    while lo < hi:  # the last cluster j with piece_offsets[j] <= b
        mid = (lo + hi + 1) // 2
        if piece_offsets[mid] <= b:
            lo = mid
        else:
            hi = mid - 1
    j = lo
    r0 = bounds[j] + (b - piece_offsets[j]) * PIECE_ROWS
    r1 = min(r0 + PIECE_ROWS, bounds[j + 1])
    t = cuda.blockIdx.y * FEATURE_THREADS + cuda.threadIdx.x
    if t < X.shape[1]:
        s = float64(shift[t])
        acc = 0.0
        for i in range(r0, r1):
            r = start + order[i]
            acc += weights[r] * (float64(X[r, t]) - s)
        psums[b, t] = acc
    if t == 0:
        wsum = 0.0
        for i in range(r0, r1):
            wsum += weights[start + order[i]]
        pweights[b] = wsum


@cuda.jit
def reduce_pieces(psums, pweights, piece_offsets, sums, counts):
    """sums[j, t] += the pieces of cluster j = blockIdx.x in order; counts[j] likewise.
    Grid (k, feature tiles); block FEATURE_THREADS."""
    j = cuda.blockIdx.x
    t = cuda.blockIdx.y * FEATURE_THREADS + cuda.threadIdx.x
    if t < sums.shape[1]:
        acc = sums[j, t]
        for b in range(piece_offsets[j], piece_offsets[j + 1]):
            acc += psums[b, t]
        sums[j, t] = acc
    if t == 0:
        w = counts[j]
        for b in range(piece_offsets[j], piece_offsets[j + 1]):
            w += pweights[b]
        counts[j] = w


@cuda.jit
def sqdist_to_candidates(X, shift, cands, start, stop, dist):
    """dist[r, q] = ||X[r] - shift - cands[q]||^2 in float64 for rows start..stop; one thread per
    (row, candidate)."""
    r = start + cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    q = cuda.blockIdx.y
    if r >= stop:
        return
    acc = 0.0
    for t in range(X.shape[1]):
        diff = float64(X[r, t] - shift[t]) - float64(cands[q, t])
        acc += diff * diff
    dist[r, q] = acc


def sorted_pieces(labels, k, xp):
    """(order, bounds, piece_offsets) of one chunk's labels (m,) int64, on the device: order (m,)
    sorts the rows by label (ties by row), bounds (k + 1,) delimit each cluster's sorted rows,
    piece_offsets (k + 1,) each cluster's pieces of at most PIECE_ROWS rows. No host sync."""
    m = labels.shape[0]
    order = xp.argsort(labels * m + xp.arange(m, dtype=np.int64))
    bounds = xp.searchsorted(labels[order], xp.arange(k + 1, dtype=np.int64)).astype(np.int64)
    pieces = (bounds[1:] - bounds[:-1] + (PIECE_ROWS - 1)) // PIECE_ROWS
    piece_offsets = xp.zeros(k + 1, dtype=np.int64)
    xp.cumsum(pieces, out=piece_offsets[1:])
    return order.astype(np.int64), bounds, piece_offsets


def lloyd_pass_cuda(X, weights, C, Cs, cnorm, shift, rows_per_chunk, update, labels, sqdist,
                    sums, counts, xp):
    """One Lloyd pass on the device: labels (n,) int64 and sqdist (n,) float64 for the centers
    C (k, d); when ``update``, sums (k, d) and counts (k,) float64 are zeroed and accumulated
    (in an order fixed by the data: bit-identical run to run).

    Cs = C - shift and cnorm = ||Cs||^2 are in X's dtype; arrays are of the namespace ``xp``
    (CuPy, or NumPy under the CUDA simulator).
    """
    stream = _launch_kwargs(xp)
    n, d = X.shape
    k = C.shape[0]
    Cs_t = xp.ascontiguousarray(Cs.T)
    if update:
        sums[...] = 0
        counts[...] = 0
    for start in range(0, n, rows_per_chunk):
        stop = min(start + rows_per_chunk, n)
        grids = lloyd_chunk_grids(stop - start, k, d)
        assign_chunk_cuda(X, C, Cs_t, cnorm, shift, start, stop, labels, sqdist, xp, stream,
                          grids["argmin_rows"])
        if update:
            order, bounds, piece_offsets = sorted_pieces(labels[start:stop], k, xp)
            n_pieces = grids["piece_sums"][0][0]
            psums = xp.empty((n_pieces, d), dtype=np.float64)
            pweights = xp.empty(n_pieces, dtype=np.float64)
            _launch(piece_sums, *grids["piece_sums"], stream, X, weights, order, start, bounds,
                    piece_offsets, shift, psums, pweights)
            _launch(reduce_pieces, *grids["reduce_pieces"], stream, psums, pweights,
                    piece_offsets, sums, counts)


def candidate_sqdist_cuda(X, shift, cands, rows_per_chunk, dist, xp):
    """dist (n, t) float64: squared distance of every row to each shifted candidate (t, d)."""
    stream = _launch_kwargs(xp)
    n = X.shape[0]
    for start in range(0, n, rows_per_chunk):
        stop = min(start + rows_per_chunk, n)
        _launch(sqdist_to_candidates, *candidate_grid(stop - start, cands.shape[0]), stream,
                X, shift, cands, start, stop, dist)
