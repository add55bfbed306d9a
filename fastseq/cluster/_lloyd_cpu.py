"""Numba CPU kernels for Lloyd's K-means: one fused pass per iteration, and the k-means++ step.

``lloyd_pass`` runs the nearest-center kernel of ``_nearest_cpu`` chunk by chunk and, in the same
pass over each chunk (still in cache), adds every row's weighted shifted coordinates and weight to
its cluster's float64 accumulators. Chunks are grouped into a fixed number of slots (a function of
the shape, never of the thread count); each slot sums its chunks in order and the slots are
reduced in order, so a fit is bit-identical whatever the number of threads.

``plusplus_potentials`` / ``plusplus_update`` are the inner step of greedy k-means++: the potential
Σ w·min(closest, d) each of a handful of candidate centers would give, then the update of every
row's closest distance for the chosen one. Both skip the rows that the triangle inequality proves
unaffected: a row at distance r from its current center c_j cannot get closer to a candidate q
with ||c_j - q|| >= 2r, so only its (cached) closest distance is read, not its coordinates. The
values are the ones the unpruned computation gives; only the work is smaller.

Kernels never validate: the driver (``_kmeans.py``) does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH
from ._nearest_cpu import assign_chunk, make_scratch


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def lloyd_pass(X, weights, C, Cs, cnorm, shift, direct, chunk, n_slots, update, labels, sqdist,
               sums, counts):
    """Assign every row of X to its nearest center and, when ``update``, accumulate the update.

    X (n, d) data; weights (n,) float64; C (k, d) centers, Cs = C - shift, cnorm = ||Cs||^2 and
    shift (d,) in X's dtype. Writes labels (n,) int64 and sqdist (n,) float64. Chunk c is handled
    by slot c % n_slots (slots run in parallel). When ``update``, also writes sums
    (n_slots, k, d) float64 = per-slot Σ w·(x - shift) and counts (n_slots, k) float64 = per-slot
    Σ w; otherwise weights, sums and counts are not touched (any arrays will do). This one kernel
    also serves ``nearest_centers`` (update=False), so it is compiled once for both.
    """
    n, d = X.shape
    k = C.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for s in prange(n_slots):
        scratch = make_scratch(X, k, chunk)
        xs = scratch[0]
        if update:
            slot_sums = sums[s]
            slot_counts = counts[s]
            slot_sums[:] = 0.0
            slot_counts[:] = 0.0
        else:
            slot_sums = sums[0]
            slot_counts = counts[0]
        for c in range(s, n_chunks, n_slots):
            start = c * chunk
            stop = min(start + chunk, n)
            assign_chunk(X, C, Cs, cnorm, shift, direct, start, stop, scratch, labels, sqdist)
            if not update:
                continue
            if direct and d == 2:  # the commonest small case, unrolled
                _scatter_2(X, shift, weights, labels, start, stop, slot_sums, slot_counts)
                continue
            # (2-D indexing, not a row view per row: a view costs reference counting)
            for i in range(stop - start):
                row = start + i
                j = labels[row]
                w = weights[row]
                slot_counts[j] += w
                if direct:  # the direct strategy does not leave shifted rows in the scratch
                    for t in range(d):
                        slot_sums[j, t] += w * (np.float64(X[row, t]) - np.float64(shift[t]))
                else:
                    for t in range(d):
                        slot_sums[j, t] += w * np.float64(xs[i, t])


@njit(cache=True, fastmath=FASTMATH)
def _scatter_2(X, shift, weights, labels, start, stop, slot_sums, slot_counts):
    """The update scatter of :func:`lloyd_pass` for d = 2, unrolled."""
    s0 = np.float64(shift[0])
    s1 = np.float64(shift[1])
    for row in range(start, stop):
        j = labels[row]
        w = weights[row]
        slot_counts[j] += w
        slot_sums[j, 0] += w * (np.float64(X[row, 0]) - s0)
        slot_sums[j, 1] += w * (np.float64(X[row, 1]) - s1)


# A row is skipped only when ||c_j - q||^2 >= 4 r^2 (1 + PRUNE_MARGIN): far above the float32
# rounding of the distances, so a skipped row is one whose distance could not have won.
PRUNE_MARGIN = 1e-3


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _sqdist_shifted(X, row, shift, point):
    """||(X[row] - shift) - point||^2 summed in X's dtype (shifted data: no cancellation)."""
    acc = X.dtype.type(0)
    for t in range(X.shape[1]):
        diff = (X[row, t] - shift[t]) - point[t]
        acc += diff * diff
    return np.float64(acc)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def plusplus_potentials(X, shift, weights, closest, nearest, cands, cc2, chunk, pots, newdist):
    """Per-slot potentials (S, t) of the candidates cands (t, d) (shifted, X's dtype).

    closest (n,) float64: each row's squared distance to its nearest chosen center, whose index
    is nearest (n,) int64; cc2 (k_chosen, t) float64: squared distances between the chosen
    centers and the candidates. Writes newdist (t, n) float64 = min(closest, d(row, candidate)),
    the closest distances if that candidate is taken. Slot s sums chunks s, s + S, ... in order
    (reduce the slots in order).
    """
    n, d = X.shape
    n_cand = cands.shape[0]
    n_slots = pots.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for s in prange(n_slots):
        pot = pots[s]
        pot[:] = 0.0
        need = np.empty(n_cand, dtype=np.bool_)
        xs = np.empty(d, dtype=X.dtype)
        for c in range(s, n_chunks, n_slots):
            for row in range(c * chunk, min(c * chunk + chunk, n)):
                r2 = closest[row]
                w = weights[row]
                limit = 4.0 * r2 * (1.0 + PRUNE_MARGIN)
                j = nearest[row]
                any_need = False
                for q in range(n_cand):
                    need[q] = cc2[j, q] < limit
                    any_need |= need[q]
                if any_need:
                    for t in range(d):
                        xs[t] = X[row, t] - shift[t]
                for q in range(n_cand):
                    v = r2
                    if need[q]:
                        acc = X.dtype.type(0)
                        for t in range(d):
                            diff = xs[t] - cands[q, t]
                            acc += diff * diff
                        dq = np.float64(acc)
                        v = dq if dq < r2 else r2
                    newdist[q, row] = v
                    pot[q] += w * v


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def plusplus_update(closest, nearest, newdist, new_index, chunk):
    """Take a candidate: closest = newdist (its row of :func:`plusplus_potentials`' output) and
    nearest = new_index where the candidate is nearer."""
    n = closest.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        for row in range(c * chunk, min(c * chunk + chunk, n)):
            v = newdist[row]
            if v < closest[row]:
                closest[row] = v
                nearest[row] = new_index


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def sqdist_to_point(X, shift, point, chunk, out):
    """out (n,) float64 = squared distance of every row of X to ``point`` (d,), shifted alike."""
    n = X.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        for row in range(c * chunk, min(c * chunk + chunk, n)):
            out[row] = _sqdist_shifted(X, row, shift, point)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def column_moments(X, chunk, sums, sumsq):
    """Per-slot Σ (x - x0) and Σ (x - x0)^2 of each column in float64, x0 = X[0] (a data row, so
    the sums stay small and the variance does not cancel). sums, sumsq (S, d); chunk c belongs to
    slot c % S (reduce the slots in order)."""
    n, d = X.shape
    n_slots = sums.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for s in prange(n_slots):
        sums[s, :] = 0.0
        sumsq[s, :] = 0.0
        for c in range(s, n_chunks, n_slots):
            for i in range(c * chunk, min(c * chunk + chunk, n)):
                for t in range(d):
                    v = np.float64(X[i, t]) - np.float64(X[0, t])
                    sums[s, t] += v
                    sumsq[s, t] += v * v
