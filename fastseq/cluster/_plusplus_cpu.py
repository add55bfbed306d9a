"""Numba CPU kernels of greedy k-means++: distances to one point, candidate potentials, update.

``plusplus_potentials`` / ``plusplus_update`` are the inner step of greedy k-means++: the potential
Σ w·min(closest, d) each of a handful of candidate centers would give, then the update of every
row's closest distance for the chosen one. Both skip the rows that the triangle inequality proves
unaffected: a row at distance r from its current center c_j cannot get closer to a candidate q
with ||c_j - q|| >= 2r, so only its (cached) closest distance is read, not its coordinates. The
values are the ones the unpruned computation gives; only the work is smaller.

Kernels never validate: ``kmeans_plusplus`` and the estimators do.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH


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
