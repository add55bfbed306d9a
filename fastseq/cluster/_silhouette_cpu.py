"""Numba CPU kernels for the silhouette: per row, the summed distance to its own cluster and the
smallest mean distance to another cluster, without ever forming the n x n distance matrix.

The driver (``_silhouette.py``) sorts the points by cluster and hands the kernels float64 data, so
that every cluster is a contiguous run of rows and every sum is taken in float64. Work is split
into fixed chunks of rows dealt to workers round-robin; each row's sums are accumulated in an
order fixed by the chunks alone, so results do not depend on the thread count or on scheduling.

For a chunk of ``m`` rows the kernel keeps a (k, m) accumulator ``acc``: ``acc[c, i]`` is the sum
of the Euclidean distances from row i to the points of cluster c. The chunk is laid out
feature-major, ``xt`` (d, m), so that every inner loop runs over the chunk's rows, contiguous in
memory, and vectorises (distance, square root and addition alike). Two strategies:

- GEMM (large d): per block of ``col_block`` columns, ``X[block] @ xt`` through BLAS into a
  (col_block, m) tile that stays in cache, then ``sqrt(max(|x_i|^2 + |x_j|^2 - 2 x_i.x_j, 0))`` is
  added into ``acc[label_j]``. The data is centered by the driver first, so the identity keeps its
  accuracy; the distance of a row to itself is set to exactly 0, as scikit-learn does.
- direct (small d): the squared distance is summed from differences, which a GEMM cannot speed up
  when d is a handful of coordinates.

Two ways to cover the pairs, chosen by the driver:

- :func:`symmetric_sums` computes every pair of rows once (half the distances and square roots)
  and hands the distance to both rows; it keeps per-cluster sums for every row, so the driver uses
  it while those buffers fit its budget.
- :func:`silhouette_sums` computes each chunk of rows against all columns (every pair twice), with
  scratch independent of n: the fallback for many clusters or huge n.

Kernels never validate: the driver does.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH



@njit(cache=True, fastmath=FASTMATH)
def _load_chunk(X, start, m, xt, xnorm):
    """xt[t, i] = X[start + i, t] and xnorm[i] = |X[start + i]|^2 for i < m (xt is (d, >= m))."""
    d = X.shape[1]
    for i in range(m):
        s = 0.0
        for t in range(d):
            v = X[start + i, t]
            xt[t, i] = v
            s += v * v
        xnorm[i] = s


@njit(cache=True, fastmath=FASTMATH)
def _add_gemm_block(tile, j0, mb, xnorm, ynorm, labels, start, m, tmp, acc):
    """acc[labels[j], i] += sqrt(max(xnorm[i] + ynorm[j] - 2 tile[j - j0, i], 0)) for the block's
    columns j0..j0+mb; the distance of row ``start + i`` to column ``start + i`` counts as 0."""
    for jj in range(mb):
        j = j0 + jj
        yn = ynorm[j]
        row = tile[jj]
        accrow = acc[labels[j]]
        if start <= j < start + m:  # this column is one of the chunk's own rows
            for i in range(m):
                v = xnorm[i] + yn - 2.0 * row[i]
                tmp[i] = v if v > 0.0 else 0.0
            tmp[j - start] = 0.0
            for i in range(m):
                accrow[i] += math.sqrt(tmp[i])
        else:
            for i in range(m):
                v = xnorm[i] + yn - 2.0 * row[i]
                accrow[i] += math.sqrt(v if v > 0.0 else 0.0)


@njit(cache=True, fastmath=FASTMATH)
def _add_direct(X, xt, m, labels, tmp, acc):
    """acc[labels[j], i] += |X[j] - xt[:, i]| for every column j, from summed differences."""
    n, d = X.shape
    for j in range(n):
        for i in range(m):
            tmp[i] = 0.0
        for t in range(d):
            yjt = X[j, t]
            xrow = xt[t]
            for i in range(m):
                diff = xrow[i] - yjt
                tmp[i] += diff * diff
        accrow = acc[labels[j]]
        for i in range(m):
            accrow[i] += math.sqrt(tmp[i])


@njit(cache=True, fastmath=FASTMATH)
def _reduce_chunk(acc, labels, counts, start, m, intra, inter):
    """intra[start + i] = acc[own, i] (the summed distance to the row's own cluster) and
    inter[start + i] = min over other clusters c of acc[c, i] / counts[c]."""
    k = acc.shape[0]
    best = np.empty(m)
    for i in range(m):
        own = labels[start + i]
        intra[start + i] = acc[own, i]
        acc[own, i] = np.inf
        best[i] = np.inf
    for c in range(k):
        cnt = np.float64(counts[c])
        row = acc[c]
        for i in range(m):
            v = row[i] / cnt
            best[i] = v if v < best[i] else best[i]
    for i in range(m):
        inter[start + i] = best[i]


@njit(cache=True, fastmath=FASTMATH)
def chunk_sums(X, ynorm, labels, counts, gemm, start, m, col_block, xt, xnorm, tile, tmp, acc,
               intra, inter):
    """Rows start..start+m: fills intra / inter (see :func:`_reduce_chunk`). ``xt`` is (d, m) and
    ``tile`` (col_block, m), both C-contiguous; ``acc`` is (k, >= m); ``ynorm`` is |X[j]|^2."""
    n = X.shape[0]
    _load_chunk(X, start, m, xt, xnorm)
    for c in range(acc.shape[0]):
        for i in range(m):
            acc[c, i] = 0.0
    if gemm:
        for j0 in range(0, n, col_block):
            mb = min(col_block, n - j0)
            out = tile[:mb]
            np.dot(X[j0:j0 + mb], xt, out)
            _add_gemm_block(out, j0, mb, xnorm, ynorm, labels, start, m, tmp, acc)
    else:
        _add_direct(X, xt, m, labels, tmp, acc)
    _reduce_chunk(acc, labels, counts, start, m, intra, inter)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def silhouette_sums(X, ynorm, labels, counts, gemm, chunk, col_block, n_workers, intra, inter):
    """For every row i of X (float64 (n, d), sorted by cluster, centered when ``gemm``):
    intra[i] = sum of distances to the rows of its own cluster (itself counting 0) and
    inter[i] = the smallest mean distance to the rows of another cluster.

    labels (n,) int64 in 0..k-1, non-decreasing; counts (k,) int64, every one > 0;
    ynorm (n,) float64 = |X[j]|^2 (used by the GEMM strategy). Chunks of ``chunk`` rows are dealt
    to workers round-robin (fixed order).
    """
    n, d = X.shape
    k = counts.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for w in prange(n_workers):
        xt = np.empty((d, chunk))
        tile = np.empty((col_block, chunk))
        xnorm = np.empty(chunk)
        tmp = np.empty(chunk)
        acc = np.empty((k, chunk))
        for c in range(w, n_chunks, n_workers):
            start = c * chunk
            m = min(chunk, n - start)
            if m == chunk:
                chunk_sums(X, ynorm, labels, counts, gemm, start, m, col_block, xt, xnorm, tile,
                           tmp, acc, intra, inter)
            else:  # a ragged last chunk: contiguous operands of its own size for BLAS
                chunk_sums(X, ynorm, labels, counts, gemm, start, m, col_block,
                           np.empty((d, m)), xnorm, np.empty((col_block, m)), tmp, acc, intra,
                           inter)


# --- symmetric strategy: every pair of rows once -------------------------------------------------
#
# Row blocks I = 0..nb-1 of ``chunk`` rows. Phase 1 (a task per I) computes the tiles of I against
# every block J >= I. A tile gives I's rows their per-cluster sums over J's columns (into
# ``accbuf[I]``), and, for J > I, gives each column j of J its sums over I's rows, one per
# cluster present in I (I's rows are sorted, so they span clusters ``clo[I] .. clo[I] + nlab[I]``
# as contiguous runs): stored in ``colbuf`` at ``cbase[I] + (j - end_I) * nlab[I] + c'``.
# Phase 2 (a task per J) adds those column sums into ``accbuf[J]`` in increasing I, then reduces.
# The order of every sum is fixed by the blocks alone, not by the thread count.


@njit(cache=True, fastmath=FASTMATH)
def _row_sqdist_direct(X, j, xt, m, tmp):
    """tmp[i] = |X[j] - row i of the block|^2 for i < m, summed from differences."""
    for i in range(m):
        tmp[i] = 0.0
    for t in range(X.shape[1]):
        yjt = X[j, t]
        xrow = xt[t]
        for i in range(m):
            diff = xrow[i] - yjt
            tmp[i] += diff * diff


@njit(cache=True, fastmath=FASTMATH)
def _pair_tile(X, ynorm, labels, gemm, I0, m, J0, mJ, xt, xnorm, tile, tmp, seg, nlab, acc,
               colbuf, cbase, rows_end):
    """Block I (rows I0..I0+m, loaded in xt / xnorm) against block J (J0..J0+mJ), J >= I.

    Per column j of J: the distances to I's rows are added into ``acc[labels[j]]`` and, when
    J > I, summed over each of I's cluster runs ``seg`` into colbuf, in one fused pass."""
    diag = I0 == J0
    if gemm:
        out = tile[:mJ]
        np.dot(X[J0:J0 + mJ], xt, out)
    for jj in range(mJ):
        j = J0 + jj
        accrow = acc[labels[j]]
        if gemm:
            yn = ynorm[j]
            for i in range(m):
                tmp[i] = xnorm[i] + yn - 2.0 * tile[jj, i]
        else:
            _row_sqdist_direct(X, j, xt, m, tmp)
        if diag:
            tmp[jj] = 0.0  # the distance of a row to itself is exactly 0
            for i in range(m):
                v = tmp[i]
                accrow[i] += math.sqrt(v if v > 0.0 else 0.0)
        else:
            base = cbase + (j - rows_end) * nlab
            for c in range(nlab):
                s = 0.0
                for i in range(seg[c], seg[c + 1]):
                    v = tmp[i]
                    v = math.sqrt(v if v > 0.0 else 0.0)
                    accrow[i] += v
                    s += v
                colbuf[base + c] = s


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def symmetric_sums(X, ynorm, labels, counts, gemm, chunk, clo, nlab, cbase, n_workers, accbuf,
                   colbuf, intra, inter):
    """Same result as :func:`silhouette_sums`, computing each pair of rows once.

    clo (nb,), nlab (nb,) int64: the first cluster of row block I and how many it spans;
    cbase (nb,) int64: where block I's column sums start in colbuf (float64, sized by the driver:
    sum over I of (n - end_I) * nlab[I]); accbuf (nb, k, chunk) float64 scratch.
    """
    n, d = X.shape
    k = counts.shape[0]
    nb = (n + chunk - 1) // chunk
    for w in prange(n_workers):
        xt = np.empty((d, chunk))
        tile = np.empty((chunk, chunk))
        xnorm = np.empty(chunk)
        tmp = np.empty(chunk)
        seg = np.empty(chunk + 1, dtype=np.int64)
        for b in range(w, nb, n_workers):
            I0 = b * chunk
            m = min(chunk, n - I0)
            acc = accbuf[b]
            for c in range(k):
                for i in range(m):
                    acc[c, i] = 0.0
            xt_b = xt if m == chunk else np.empty((d, m))  # contiguous for BLAS
            _load_chunk(X, I0, m, xt_b, xnorm)
            lo = clo[b]
            seg[0] = 0
            q = 0
            for c in range(nlab[b]):
                while q < m and labels[I0 + q] == lo + c:
                    q += 1
                seg[c + 1] = q
            for J0 in range(I0, n, chunk):
                mJ = min(chunk, n - J0)
                _pair_tile(X, ynorm, labels, gemm, I0, m, J0, mJ, xt_b, xnorm,
                           tile if m == chunk else np.empty((chunk, m)), tmp, seg, nlab[b], acc,
                           colbuf, cbase[b], I0 + m)
    for w in prange(n_workers):
        for b in range(w, nb, n_workers):
            J0 = b * chunk
            mJ = min(chunk, n - J0)
            acc = accbuf[b]
            for a in range(b):
                end_a = min(a * chunk + chunk, n)
                nl = nlab[a]
                lo = clo[a]
                for jj in range(mJ):
                    base = cbase[a] + (J0 + jj - end_a) * nl
                    for c in range(nl):
                        acc[lo + c, jj] += colbuf[base + c]
            _reduce_chunk(acc, labels, counts, J0, mJ, intra, inter)
