"""Numba CPU kernels: nearest center per row, and the full squared-distance matrix.

Two strategies, chosen by the driver in ``_distances.py``:

- GEMM (large d): per chunk of rows, the shifted rows are copied once (a contiguous (m, d) block),
  ``C_s @ X_s[chunk].T`` runs through BLAS into a (k, m) tile that stays in cache, then a fused pass
  takes min/argmin down each column. The tile is laid out center-major so the argmin runs over
  contiguous rows (a vectorisable select, not a reduction). Every constant in the hot loops has the
  data's dtype: a bare ``2`` would promote float32 arithmetic to float64 and halve the vector width.
- direct (small d): distances are summed from differences, which GEMM cannot speed up when d is
  a handful of coordinates.

Both shift X and C by the same vector (the mean of the centers) before using
||x||^2 - 2 x.c + ||c||^2, and recompute the winner's squared distance from differences in float64,
so float32 data far from the origin keeps its accuracy. Work is split into fixed chunks handed to
workers in a fixed order, so results do not depend on the thread count or on scheduling.

Kernels never validate: the driver does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH



@njit(cache=True, fastmath=FASTMATH, inline="always")
def _winner_sqdist(X, C, i, j):
    """Squared distance of row ``i`` of X to row ``j`` of C, summed from differences in float64."""
    s = 0.0
    for t in range(X.shape[1]):
        diff = np.float64(X[i, t]) - np.float64(C[j, t])
        s += diff * diff
    return s


@njit(cache=True, fastmath=FASTMATH)
def shifted_rows(X, start, stop, shift, out):
    """out[i - start, t] = X[i, t] - shift[t] for rows start..stop (out is (m, d), C order)."""
    for i in range(start, stop):
        for t in range(X.shape[1]):
            out[i - start, t] = X[i, t] - shift[t]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _take_if_smaller(v, i, fj, best, best_idx):
    """best[i], best_idx[i] = v, fj when v < best[i] (strict: the lowest j wins ties).

    Both stores are unconditional selects, so LLVM vectorises the loop around it.
    """
    b = best[i]
    smaller = v < b
    best[i] = v if smaller else b
    best_idx[i] = fj if smaller else best_idx[i]


@njit(cache=True, fastmath=FASTMATH)
def _reset_best(best, best_idx, m):
    big = np.finfo(best.dtype).max
    for i in range(m):
        best[i] = big
        best_idx[i] = 0


@njit(cache=True, fastmath=FASTMATH)
def _argmin_columns(tile, cnorm, best, best_idx):
    """best[i] / best_idx[i] = min / argmin over j of cnorm[j] - 2 tile[j, i] (lowest j on ties)."""
    m = best.shape[0]
    two = tile.dtype.type(2)
    _reset_best(best, best_idx, m)
    for j in range(tile.shape[0]):
        cj = cnorm[j]
        fj = best_idx.dtype.type(j)
        row = tile[j]
        for i in range(m):
            _take_if_smaller(cj - two * row[i], i, fj, best, best_idx)


@njit(cache=True)
def make_scratch(X, k, chunk):
    """Per-worker scratch for :func:`assign_chunk`: (xs, tile, best, best_idx) in X's dtype for
    the GEMM strategy, and (acc, best, best_idx) in float64 for the direct one."""
    d = X.shape[1]
    return (np.empty((chunk, d), dtype=X.dtype), np.empty((k, chunk), dtype=X.dtype),
            np.empty(chunk, dtype=X.dtype), np.empty(chunk, dtype=X.dtype),
            np.empty((3, chunk), dtype=np.float64))


@njit(cache=True, fastmath=FASTMATH)
def assign_chunk(X, C, Cs, cnorm, shift, direct, start, stop, scratch, labels, sqdist):
    """Nearest center of rows start..stop of X: writes labels[start:stop] (int64) and
    sqdist[start:stop] (float64, summed from differences).

    C (k, d) the centers; Cs = C - shift and cnorm = ||Cs||^2 (X's dtype) are used by the GEMM
    strategy; ``direct`` selects the difference-summing strategy for small d instead.
    ``stop - start`` must not exceed the scratch's chunk size. On return (GEMM strategy) the
    scratch's ``xs[:m]`` holds the chunk's shifted rows, for callers that accumulate them.
    """
    xs, tile, best, best_idx, direct_buffers = scratch
    m = stop - start
    chunk = best.shape[0]
    if direct:  # distances summed in float64 from differences: the minimum is the distance
        acc, best64, idx64 = direct_buffers[0], direct_buffers[1], direct_buffers[2]
        _direct_columns(X, C, start, stop, xs, acc, best64, idx64)
        for i in range(m):
            labels[start + i] = np.int64(idx64[i])
            sqdist[start + i] = best64[i]
        return
    if m == chunk:
        shifted_rows(X, start, stop, shift, xs)
        np.dot(Cs, xs.T, tile)
        _argmin_columns(tile, cnorm, best, best_idx)
    else:  # a ragged last chunk: a product of its own size for BLAS
        shifted_rows(X, start, stop, shift, xs)
        _argmin_columns(np.dot(Cs, xs[:m].T), cnorm, best[:m], best_idx[:m])
    for i in range(m):
        j = np.int64(best_idx[i])
        labels[start + i] = j
        sqdist[start + i] = _winner_sqdist(X, C, start + i, j)


@njit(cache=True, fastmath=FASTMATH)
def _direct_columns(X, C, start, stop, scratch, acc, best, best_idx):
    """best / best_idx (float64) over rows start..stop from differences summed in float64
    (small d; exact differences of float32 data, so best is the squared distance itself).

    The chunk is transposed into ``scratch`` (viewed as (d, m)) so that every inner loop runs over
    the chunk's rows, contiguous in xt and acc (m,), and vectorises whatever d is.
    """
    m = stop - start
    d = X.shape[1]
    xt = scratch.reshape(-1)[: d * best.shape[0]].reshape((d, best.shape[0]))
    _reset_best(best, best_idx, m)
    for t in range(d):
        for i in range(m):
            xt[t, i] = X[start + i, t]
    if d == 2:  # the commonest small case: one fused pass per center
        _direct_columns_2(xt, C, m, best, best_idx)
        return
    for j in range(C.shape[0]):
        fj = best_idx.dtype.type(j)
        for i in range(m):
            acc[i] = 0
        for t in range(d):
            cjt = np.float64(C[j, t])
            row = xt[t]
            for i in range(m):
                diff = np.float64(row[i]) - cjt
                acc[i] += diff * diff
        for i in range(m):
            _take_if_smaller(acc[i], i, fj, best, best_idx)


@njit(cache=True, fastmath=FASTMATH)
def _direct_columns_2(xt, C, m, best, best_idx):
    """:func:`_direct_columns` for d = 2 on the chunk's transposed rows xt (2, m): each center is
    one vectorised pass over contiguous columns. (Reading the interleaved (m, 2) rows instead
    kept LLVM from vectorising the select: 5-15x slower.)"""
    x0 = xt[0]
    x1 = xt[1]
    for j in range(C.shape[0]):
        fj = best_idx.dtype.type(j)
        c0 = np.float64(C[j, 0])
        c1 = np.float64(C[j, 1])
        for i in range(m):
            a = np.float64(x0[i]) - c0
            b = np.float64(x1[i]) - c1
            _take_if_smaller(a * a + b * b, i, fj, best, best_idx)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def pairwise_gemm(X, Ys_t, ynorm, shift, chunk, n_workers, out):
    """out (n, m) = squared distances, via shifted GEMM per chunk of rows, clamped at 0.

    Ys_t (d, m): (Y - shift).T contiguous; ynorm (m,): ||Y - shift||^2.
    """
    n, d = X.shape
    n_chunks = (n + chunk - 1) // chunk
    for w in prange(n_workers):
        xs = np.empty((chunk, d), dtype=X.dtype)
        xnorm = np.empty(chunk, dtype=X.dtype)
        for c in range(w, n_chunks, n_workers):
            start = c * chunk
            stop = min(start + chunk, n)
            m = stop - start
            for i in range(m):
                s = 0.0
                for t in range(d):
                    v = X[start + i, t] - shift[t]
                    xs[i, t] = v
                    s += np.float64(v) * np.float64(v)
                xnorm[i] = s
            block = out[start:stop]
            np.dot(xs[:m], Ys_t, block)
            two = X.dtype.type(2)
            for i in range(m):
                xi = xnorm[i]
                row = block[i]
                for j in range(row.shape[0]):
                    v = xi + ynorm[j] - two * row[j]
                    row[j] = v if v > 0 else 0


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def pairwise_direct(X, Y, chunk, n_workers, out):
    """out (n, m) = squared distances summed from differences (small d)."""
    n, d = X.shape
    n_chunks = (n + chunk - 1) // chunk
    for w in prange(n_workers):
        for c in range(w, n_chunks, n_workers):
            for i in range(c * chunk, min(c * chunk + chunk, n)):
                for j in range(Y.shape[0]):
                    s = X.dtype.type(0)
                    for t in range(d):
                        diff = X[i, t] - Y[j, t]
                        s += diff * diff
                    out[i, j] = s
