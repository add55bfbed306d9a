"""Initial centers for K-means on a Dask array: k-means++ on a sample, and weighted k-means||.

``init="k-means++"`` (the default), ``"random"``, an array or a callable run the in-memory
initialisation (``_kmeans_base.initial_centers``) on a uniform sample of rows, each row carrying
its sample weight, so the seeding is weighted as in memory; the sample has
SAMPLE_PER_CLUSTER · k rows (all rows when X has fewer), so the driver holds O(k·d) numbers.

``init="k-means||"`` (Bahmani et al.) oversamples on the workers: a first row drawn in
proportion to the weights, then PARALLEL_ROUNDS rounds in which every row is taken with
probability min(1, ℓ·w·D²/φ) (ℓ = OVERSAMPLING · k, D² its squared distance to the nearest
candidate so far, φ = Σ w·D²). Each candidate is then weighted by the total weight of the rows
nearest to it (one Lloyd-table pass), and greedy weighted k-means++ on the weighted candidates
picks the k centers. Every random draw comes from the estimator's generator (one seed per chunk
and round), so the result is reproducible and independent of the number of workers.
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from ._dask_data import import_dask, one_kernel_thread
from ._dask_passes import chunk_engine, reduce_stats
from ._engine import CPUEngine
from ._kmeans_base import initial_centers
from ._kmeans_plusplus import plusplus

SAMPLE_PER_CLUSTER = 256
MIN_SAMPLE = 4096
PARALLEL_ROUNDS = 5
OVERSAMPLING = 2.0


def sample_rows(data, size, rs):
    """(rows (m, d) in X's dtype, weights (m,)) of a uniform sample of about ``size`` distinct
    rows in row order (every row when the data has at most ``size``)."""
    if size >= data.n:
        index = np.arange(data.n)
    else:
        index = np.unique(rs.randint(0, data.n, size))
    return data.take(index)


def initial_centers_dask(data, init, k, rs):
    """Shifted float64 initial centers (k, d) on the host for a :class:`DaskData`."""
    if isinstance(init, str) and init == "k-means||":
        return kmeans_parallel(data, k, rs)
    rows, weights = sample_rows(data, max(SAMPLE_PER_CLUSTER * k, MIN_SAMPLE), rs)
    if int((weights > 0).sum()) < k:
        raise ValueError(f"sample_weight: the initialisation sample of {rows.shape[0]} rows has "
                         f"fewer than n_clusters={k} rows of positive weight; use "
                         "init='k-means||' or an array init")
    engine = CPUEngine(rows, weights, data.shift)
    return initial_centers(engine, init, k, rs, data.d, data.dtype)


def _chunk_closest(xb, closest, C, shift):
    """min(closest, squared distance to the nearest row of C) for one chunk (closest may be None)."""
    engine, xp = chunk_engine(xb, np.zeros(1), shift)
    with one_kernel_thread():
        _, sqdist = engine.assign(xp.asarray(C))
    sqdist = _backend.to_host(sqdist)
    return sqdist if closest is None else np.minimum(closest, sqdist)


def _chunk_first_closest(xb, C, shift):
    return _chunk_closest(xb, None, C, shift)


def _chunk_oversample(xb, wb, closest, scale, seed):
    """Rows of one chunk taken with probability min(1, scale·w·closest), on the host."""
    u = np.random.RandomState(seed).random_sample(closest.shape[0])
    take = np.flatnonzero(u < scale * _backend.to_host(wb) * closest)
    return _backend.to_host(xb)[take]


def kmeans_parallel(data, k, rs, rounds=PARALLEL_ROUNDS, oversampling=OVERSAMPLING):
    """Weighted k-means|| on a :class:`DaskData`: shifted float64 centers (k, d)."""
    dask, da = import_dask()
    X, w = data.X, data.w
    candidates = [data.draw(1, rs)]
    new = candidates[0]  # the candidates the distances do not account for yet
    closest = None
    for _ in range(rounds):
        if new is not None:
            if closest is None:
                closest = da.blockwise(_chunk_first_closest, "i", X, "ij", dtype=np.float64,
                                       concatenate=True, C=new, shift=data.shift)
            else:
                closest = da.blockwise(_chunk_closest, "i", X, "ij", closest, "i",
                                       dtype=np.float64, concatenate=True, C=new,
                                       shift=data.shift)
            closest = dask.persist(closest)[0]
            phi = float((w * closest).sum().compute())
        if not phi > 0:  # every row sits on a candidate
            break
        seeds = rs.randint(0, 2**31 - 1, size=data.n_chunks)
        parts = [dask.delayed(_chunk_oversample, pure=True)(xb, wb, cb, oversampling * k / phi,
                                                           int(seed))
                 for (xb, wb, _), cb, seed in zip(data.blocks(), closest.to_delayed().ravel(),
                                                   seeds)]
        new = np.concatenate(dask.compute(*parts))
        if new.shape[0] == 0:
            new = None
        else:
            candidates.append(new)
    C = np.ascontiguousarray(np.concatenate(candidates))
    if C.shape[0] < k:  # too few distinct candidates: seed from a sample instead
        return initial_centers_dask(data, "k-means++", k, rs)
    table = reduce_stats(data, C.astype(np.float64) - data.shift64)
    weights = table[:, data.d]
    engine = CPUEngine(C, weights, data.shift)
    Cs64, _ = plusplus(engine, k, rs)
    return Cs64
