"""Numba kernels for sparse (CSR) rows against dense centers.

Every distance is ``||c||^2 + sum over the row's stored entries of ((x - c)^2 - c^2)``, accumulated
in float64: O(nnz(x)) per center instead of O(d), with no cancellation between ||x||^2 and x.c. When
the row's entries cover every nonzero of the center (a row equal to its center, say) the
remainder ``||c||^2 - sum c^2`` over those entries is exactly 0 and is taken as 0, so a point on
its center has distance exactly 0 as on the dense path.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True, nogil=True, inline="always")
def _row_sqdist(data, indices, start, stop, C, j, cnorm, cnnz):
    acc = 0.0
    sub = 0.0
    hits = 0
    for p in range(start, stop):
        c = C[j, indices[p]]
        v = np.float64(data[p])
        acc += (v - c) * (v - c)
        sub += c * c
        if c != 0.0:
            hits += 1
    rest = 0.0 if hits == cnnz[j] else max(cnorm[j] - sub, 0.0)
    return max(rest + acc, 0.0)


@numba.njit(parallel=True, cache=True)
def sparse_lloyd_pass(data, indices, indptr, w, C, cnorm, cnnz, chunk, slots, update, labels,
                      sqdist, sums, counts):
    """Nearest center of each CSR row, and (``update``) per-slot weighted sums and counts.

    data/indices/indptr: the CSR arrays of X (n, d); w (n,) float64; C (k, d) float64 centers,
    cnorm (k,) their squared norms, cnnz (k,) int64 their nonzero counts. Outputs labels (n,)
    int64, sqdist (n,) float64, sums (slots, k, d) and counts (slots, k) float64 (filled here).
    """
    n = indptr.shape[0] - 1
    k = C.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for s in prange(slots):
        if update:
            sums[s, :, :] = 0.0
            counts[s, :] = 0.0
        for c in range(s, n_chunks, slots):
            for i in range(c * chunk, min(n, (c + 1) * chunk)):
                start, stop = indptr[i], indptr[i + 1]
                best = np.inf
                arg = 0
                for j in range(k):
                    dist = _row_sqdist(data, indices, start, stop, C, j, cnorm, cnnz)
                    if dist < best:
                        best = dist
                        arg = j
                labels[i] = arg
                sqdist[i] = best
                if update:
                    wi = w[i]
                    counts[s, arg] += wi
                    for p in range(start, stop):
                        sums[s, arg, indices[p]] += wi * np.float64(data[p])


@numba.njit(parallel=True, cache=True)
def sparse_sqdist(data, indices, indptr, C, cnorm, cnnz, out):
    """out (n, k): squared distance of every CSR row to every center C (k, d) float64."""
    n = indptr.shape[0] - 1
    k = C.shape[0]
    for i in prange(n):
        start, stop = indptr[i], indptr[i + 1]
        for j in range(k):
            out[i, j] = _row_sqdist(data, indices, start, stop, C, j, cnorm, cnnz)
