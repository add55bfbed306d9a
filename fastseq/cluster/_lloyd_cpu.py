"""Numba CPU kernel for Lloyd's K-means: one fused assignment-and-update pass per iteration.

``lloyd_pass`` runs the nearest-center kernel of ``_nearest_cpu`` chunk by chunk and, in the same
pass over each chunk (still in cache), adds every row's weighted shifted coordinates and weight to
its cluster's float64 accumulators. Chunks are grouped into a fixed number of slots (a function of
the shape, never of the thread count); each slot sums its chunks in order and the slots are
reduced in order, so a fit is bit-identical whatever the number of threads.

Kernels never validate: the estimators (``_kmeans.py``, ``_minibatch.py``) and
``nearest_centers`` do, before the engine (``_engine.py``) calls this one.
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
