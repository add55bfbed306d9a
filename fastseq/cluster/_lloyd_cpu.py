"""Numba CPU kernels for Lloyd's K-means: one fused pass per iteration, and the k-means++ step.

``lloyd_pass`` runs the nearest-center kernel of ``_nearest_cpu`` chunk by chunk and, in the same
pass over each chunk (still in cache), adds every row's weighted shifted coordinates and weight to
its cluster's float64 accumulators. Chunks are grouped into a fixed number of slots (a function of
the shape, never of the thread count); each slot sums its chunks in order and the slots are
reduced in order, so a fit is bit-identical whatever the number of threads.

``plusplus_potentials`` is the inner step of greedy k-means++: for a handful of candidate centers
it computes each row's squared distance to each candidate and the potential Σ w·min(closest, d)
each candidate would give, in one pass over the data.

Kernels never validate: the driver (``_kmeans.py``) does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._nearest_cpu import FASTMATH, assign_chunk, make_scratch


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def lloyd_pass(X, weights, C, Cs, cnorm, shift, direct, chunk, update, labels, sqdist, sums,
               counts):
    """Assign every row of X to its nearest center and accumulate the update.

    X (n, d) data; weights (n,) float64; C (k, d) centers, Cs = C - shift, cnorm = ||Cs||^2 and
    shift (d,) in X's dtype. Writes labels (n,) int64 and sqdist (n,) float64. When ``update``,
    also writes sums (S, k, d) float64 = per-slot Σ w·(x - shift) and counts (S, k) float64 = per-
    slot Σ w, for S = sums.shape[0] slots; chunk c belongs to slot c % S.
    """
    n, d = X.shape
    k = C.shape[0]
    n_slots = sums.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for s in prange(n_slots):
        scratch = make_scratch(X, k, chunk)
        xs = scratch[0]
        slot_sums = sums[s]
        slot_counts = counts[s]
        if update:
            slot_sums[:] = 0.0
            slot_counts[:] = 0.0
        for c in range(s, n_chunks, n_slots):
            start = c * chunk
            stop = min(start + chunk, n)
            assign_chunk(X, C, Cs, cnorm, shift, direct, start, stop, scratch, labels, sqdist)
            if not update:
                continue
            for i in range(stop - start):
                row = start + i
                j = labels[row]
                w = weights[row]
                slot_counts[j] += w
                acc = slot_sums[j]
                if direct:  # the direct strategy does not leave shifted rows in the scratch
                    for t in range(d):
                        acc[t] += w * (np.float64(X[row, t]) - np.float64(shift[t]))
                else:
                    for t in range(d):
                        acc[t] += w * np.float64(xs[i, t])


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def plusplus_potentials(X, shift, weights, closest, cands, chunk, dist, pots):
    """One greedy k-means++ step over the data, in one pass.

    X (n, d); shift (d,) and cands (t, d) (candidates, already shifted) in X's dtype; weights and
    closest (n,) float64 (each row's squared distance to its nearest chosen center). Writes
    dist (n, t) float64, the squared distance of each row to each candidate, and pots (S, t)
    float64, per-slot Σ w·min(closest, dist) for S = pots.shape[0] fixed slots (reduce in order).
    """
    n, d = X.shape
    n_cand = cands.shape[0]
    n_slots = pots.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for s in prange(n_slots):
        pot = pots[s]
        pot[:] = 0.0
        xs = np.empty(d, dtype=X.dtype)
        for c in range(s, n_chunks, n_slots):
            for row in range(c * chunk, min(c * chunk + chunk, n)):
                for t in range(d):
                    xs[t] = X[row, t] - shift[t]
                w = weights[row]
                near = closest[row]
                for q in range(n_cand):
                    acc = X.dtype.type(0)
                    cq = cands[q]
                    for t in range(d):
                        diff = xs[t] - cq[t]
                        acc += diff * diff
                    v = np.float64(acc)
                    dist[row, q] = v
                    pot[q] += w * (v if v < near else near)


@njit(cache=True, fastmath=FASTMATH)
def take_closest(closest, dist, q):
    """closest = min(closest, dist[:, q]) in place."""
    for i in range(closest.shape[0]):
        v = dist[i, q]
        if v < closest[i]:
            closest[i] = v


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def sqdist_to_point(X, shift, point, chunk, out):
    """out (n,) float64 = squared distance of every row of X to ``point`` (d,), shifted alike."""
    n, d = X.shape
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        for row in range(c * chunk, min(c * chunk + chunk, n)):
            acc = 0.0
            for t in range(d):
                diff = np.float64(X[row, t] - shift[t]) - np.float64(point[t])
                acc += diff * diff
            out[row] = acc


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def plusplus_potentials_gemm(X, shift, xnorm, weights, closest, cands_t, cnorm, chunk, dist,
                             pots):
    """:func:`plusplus_potentials` through BLAS: per chunk, the shifted rows times the candidates
    (d, t) with ||x||^2 - 2 x.c + ||c||^2, clamped at 0 (as scikit-learn's float32 k-means++).

    xnorm (n,) the rows' shifted squared norms and cnorm (t,) the candidates', in X's dtype.
    """
    n, d = X.shape
    n_cand = cands_t.shape[1]
    n_slots = pots.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    two = X.dtype.type(2)
    for s in prange(n_slots):
        pot = pots[s]
        pot[:] = 0.0
        xs = np.empty((chunk, d), dtype=X.dtype)
        prod = np.empty((chunk, n_cand), dtype=X.dtype)
        for c in range(s, n_chunks, n_slots):
            start = c * chunk
            stop = min(start + chunk, n)
            m = stop - start
            for i in range(m):
                for t in range(d):
                    xs[i, t] = X[start + i, t] - shift[t]
            if m == chunk:
                np.dot(xs, cands_t, prod)
                block = prod
            else:
                block = np.dot(xs[:m], cands_t)
            for i in range(m):
                row = start + i
                w = weights[row]
                near = closest[row]
                xn = xnorm[row]
                for q in range(n_cand):
                    v = xn + cnorm[q] - two * block[i, q]
                    v = np.float64(v) if v > 0 else 0.0
                    dist[row, q] = v
                    pot[q] += w * (v if v < near else near)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def shifted_sqnorms(X, shift, chunk, out):
    """out (n,) in X's dtype: ||X[i] - shift||^2, summed in float64."""
    n, d = X.shape
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        for row in range(c * chunk, min(c * chunk + chunk, n)):
            acc = 0.0
            for t in range(d):
                v = np.float64(X[row, t] - shift[t])
                acc += v * v
            out[row] = acc
