"""Numba CPU kernels for Lloyd iterations that skip provably unchanged assignments (Hamerly).

Each row keeps an upper bound ``u`` on its distance to its assigned center and a lower bound ``l``
on its distance to every other center; center i also has ``s_i``, half the distance to its
nearest other center. After the centers move by δ, ``u += δ[a]`` and ``l -= max δ``; a row whose
bounds still prove its center nearest is not reassigned. Only the other rows go through the
shifted GEMM and argmin (gathered into dense chunks), which also yields their new bounds.

The proof has to hold for the float32 scores the plain pass would compare, not only in exact
arithmetic. Distances here are between the shifted rows xs = fl(x - shift) and the shifted
centers Cs exactly as the GEMM sees them, computed in float64; the GEMM's score for center j,
cnorm_j - 2 xs.Cs_j, is within E = (d + 2) eps (||xs|| + max ||Cs||)^2 of the exact
||xs - Cs_j||^2 - ||xs||^2. A row is skipped only if sqrt(u^2 + 2E) <= l or
u + sqrt(u^2 + 2E) <= 2 s_a: then every other center scores strictly worse, so the plain pass
would have chosen the same center. Labels, sums and distances therefore equal the plain pass's.

Kernels never validate: the driver (``_engine.py``) does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH
from ._nearest_cpu import _winner_sqdist, shifted_rows

# relative slack for float64 rounding in the bounds themselves
SLACK = 1e-12


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _shifted_sqdist(X, row, shift, Cs, j):
    """||fl(X[row] - shift) - Cs[j]||^2 in float64: the distance the GEMM's score stands for."""
    acc = 0.0
    for t in range(X.shape[1]):
        v = np.float64(X[row, t] - shift[t]) - np.float64(Cs[j, t])
        acc += v * v
    return acc


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _err(xnorm, i, err_scale, cs_max):
    """2E for row i: twice the bound on the float32 score error (module docstring)."""
    r = np.sqrt(xnorm[i]) + cs_max
    return err_scale * r * r


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def screen(labels, upper, lower, xnorm, err_scale, cs_max, half_gap, delta, delta_max,
           delta_second, argmax, chunk, mark):
    """Move the bounds by the centers' shifts and mark the rows that need a full assignment.

    upper, lower (n,) float64 bounds (updated in place); xnorm (n,) = ||xs||^2, with err_scale
    = 2 (d + 2) eps and cs_max = max ||Cs|| giving each row's 2E; half_gap (k,) = s; delta (k,)
    the centers' moves; delta_max / delta_second the two largest moves and ``argmax`` the center
    of the largest. mark (n,) uint8 is written: 1 = reassign.
    """
    n = labels.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        for i in range(c * chunk, min(c * chunk + chunk, n)):
            a = labels[i]
            u = (upper[i] + delta[a]) * (1.0 + SLACK)
            other = delta_second if a == argmax else delta_max
            low = (lower[i] - other) * (1.0 - SLACK)
            upper[i] = u
            lower[i] = low
            u_err = np.sqrt(u * u + _err(xnorm, i, err_scale, cs_max))
            mark[i] = 0 if (u_err <= low or u + u_err <= 2.0 * half_gap[a]) else 1


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def tighten(X, shift, Cs, labels, upper, lower, xnorm, err_scale, cs_max, half_gap, rows, chunk,
            mark):
    """For the marked ``rows``: replace u by the exact distance to the assigned center and unmark
    the rows that this alone proves unchanged."""
    m = rows.shape[0]
    n_chunks = (m + chunk - 1) // chunk
    for c in prange(n_chunks):
        for r in range(c * chunk, min(c * chunk + chunk, m)):
            i = rows[r]
            a = labels[i]
            u = np.sqrt(_shifted_sqdist(X, i, shift, Cs, a)) * (1.0 + SLACK)
            upper[i] = u
            u_err = np.sqrt(u * u + _err(xnorm, i, err_scale, cs_max))
            if u_err <= lower[i] or u + u_err <= 2.0 * half_gap[a]:
                mark[i] = 0


@njit(cache=True, fastmath=FASTMATH)
def _two_smallest_columns(tile, cnorm, m, best, second, best_idx):
    """Per column i < m of tile (k, chunk): the smallest and second smallest of
    cnorm[j] - 2 tile[j, i] and the index of the smallest (lowest j on ties)."""
    big = np.finfo(best.dtype).max
    two = tile.dtype.type(2)
    for i in range(m):
        best[i] = big
        second[i] = big
        best_idx[i] = 0
    for j in range(tile.shape[0]):
        cj = cnorm[j]
        fj = best_idx.dtype.type(j)
        row = tile[j]
        for i in range(m):
            v = cj - two * row[i]
            b = best[i]
            smaller = v < b
            second[i] = b if smaller else min(second[i], v)
            best[i] = v if smaller else b
            best_idx[i] = fj if smaller else best_idx[i]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def reassign(X, shift, Cs, cnorm, xnorm, err_scale, cs_max, rows, chunk, labels, upper, lower):
    """Full assignment of the listed ``rows`` through the shifted GEMM (gathered chunk by chunk):
    new labels, u = exact distance to the new center, l = a lower bound on the second nearest."""
    m_total = rows.shape[0]
    k, d = Cs.shape
    n_chunks = (m_total + chunk - 1) // chunk
    for c in prange(n_chunks):
        start = c * chunk
        m = min(chunk, m_total - start)
        xs = np.empty((chunk, d), dtype=X.dtype)
        for r in range(m):
            i = rows[start + r]
            for t in range(d):
                xs[r, t] = X[i, t] - shift[t]
        tile = np.dot(Cs, xs[:m].T)
        best = np.empty(m, dtype=X.dtype)
        second = np.empty(m, dtype=X.dtype)
        best_idx = np.empty(m, dtype=X.dtype)
        _two_smallest_columns(tile, cnorm, m, best, second, best_idx)
        for r in range(m):
            i = rows[start + r]
            a = np.int64(best_idx[r])
            labels[i] = a
            upper[i] = np.sqrt(_shifted_sqdist(X, i, shift, Cs, a)) * (1.0 + SLACK)
            low2 = np.float64(second[r]) + xnorm[i] - _err(xnorm, i, err_scale, cs_max)
            lower[i] = np.sqrt(low2) * (1.0 - SLACK) if low2 > 0 else 0.0


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def accumulate(X, weights, C, shift, labels, chunk, sqdist, sums, counts):
    """sqdist (n,) = exact squared distance of every row to C[label] (as the plain pass), and the
    per-slot weighted sums of shifted rows (S, k, d) and counts (S, k) in the plain pass's slot
    order (chunk c in slot c % S), so the update is bit-identical to it."""
    n, d = X.shape
    n_slots = sums.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for s in prange(n_slots):
        slot_sums = sums[s]
        slot_counts = counts[s]
        slot_sums[:] = 0.0
        slot_counts[:] = 0.0
        xs = np.empty((chunk, d), dtype=X.dtype)
        for c in range(s, n_chunks, n_slots):
            start = c * chunk
            stop = min(start + chunk, n)
            shifted_rows(X, start, stop, shift, xs)
            for r in range(stop - start):
                i = start + r
                j = labels[i]
                w = weights[i]
                sqdist[i] = _winner_sqdist(X, C, i, j)
                slot_counts[j] += w
                for t in range(d):  # 2-D indexing: a row view per row costs reference counting
                    slot_sums[j, t] += w * np.float64(xs[r, t])


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def shifted_sqnorms(X, shift, chunk, xnorm):
    """xnorm (n,) float64 = ||fl(x - shift)||^2."""
    n, d = X.shape
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        for i in range(c * chunk, min(c * chunk + chunk, n)):
            acc = 0.0
            for t in range(d):
                v = np.float64(X[i, t] - shift[t])
                acc += v * v
            xnorm[i] = acc
