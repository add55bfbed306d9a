"""The per-chunk passes of the Dask estimators, each reduced to a small table on the driver.

:func:`chunk_stats` is the Lloyd pass of one chunk (per-cluster sums, weights and inertia);
:func:`reduce_stats` sums it over the chunks up the fixed tree of ``_dask_data.tree_reduce`` in
one ``compute``. The same table gives the weights k-means|| gives its candidates and the inertia
of fitted centers.
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from ._dask_data import chunk_namespace, import_dask, one_kernel_thread, tree_reduce
from ._engine import make_engine


def chunk_engine(xb, wb, shift):
    device, xp = chunk_namespace(xb)
    xb = xp.ascontiguousarray(xb)
    return make_engine(xb, xp.asarray(wb, dtype=np.float64), xp.asarray(shift), device), xp


def chunk_stats(xb, wb, Cs64, shift):
    """(k, d + 2) float64 for one chunk: Σ w·(x - shift) per cluster, Σ w, Σ w·||x - c||²."""
    k, d = Cs64.shape
    out = np.zeros((k, d + 2))
    if xb.shape[0] == 0:
        return out
    engine, xp = chunk_engine(xb, wb, shift)
    with one_kernel_thread():
        labels, sqdist, sums, counts = engine.lloyd_pass(xp.asarray(Cs64))
        inertia = xp.bincount(labels, weights=engine.weights * sqdist, minlength=k)
    out[:, :d] = _backend.to_host(sums)
    out[:, d] = _backend.to_host(counts)
    out[:, d + 1] = _backend.to_host(inertia)
    return out


def _sum_tables(parts):
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def reduce_stats(data, Cs64):
    """The (k, d + 2) table of :func:`chunk_stats` summed over all chunks: one compute."""
    dask, _ = import_dask()
    C = dask.delayed(np.asarray(Cs64, dtype=np.float64), pure=True)
    parts = [dask.delayed(chunk_stats, pure=True)(xb, wb, C, data.shift)
             for xb, wb, _ in data.blocks()]
    return dask.compute(tree_reduce(parts, _sum_tables))[0]
