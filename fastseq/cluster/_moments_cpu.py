"""Numba CPU kernel of the data's column moments (mean and variance), read chunk by chunk."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH


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
