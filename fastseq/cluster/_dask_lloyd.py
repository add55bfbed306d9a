"""Lloyd's algorithm on a Dask array: one tree reduction of per-cluster sums per iteration.

Per iteration each chunk task runs the fused assignment-and-accumulation pass of the engine on
its rows and returns only a (k, d + 2) float64 table: the weighted shifted sums, the weights and
the inertia of each cluster (never labels or distances). The tables are summed up the fixed tree
of ``_dask_data.tree_reduce`` and fetched with one ``compute``; the update is made on the
driver with the in-memory code (``_lloyd.new_centers``). A fit is therefore bit-identical from
run to run and whatever the number of workers.

An empty cluster takes the points farthest from their centers, as in memory: only then one more
pass asks every chunk for its farthest rows, and the driver keeps the farthest overall (ties to
the lowest row index). The stopping rule is the in-memory one: the loop stops when the total
squared center shift is at most tol; identical labels give identical sums, hence a zero shift,
so strict convergence stops at the same iteration.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _backend
from .._validation import check_random_state, check_working_memory
from ._dask_data import DaskData, import_dask, one_kernel_thread, tree_reduce
from ._dask_init import initial_centers_dask
from ._dask_passes import chunk_engine, reduce_stats
from ._dask_predict import lazy_labels
from ._engine import CPUEngine
from ._lloyd import new_centers, relocate_empty_clusters


# -- empty clusters -------------------------------------------------------------------------

def _chunk_farthest(xb, wb, Cs64, shift, m, start):
    """The m rows of a chunk farthest from their centers (farthest first, ties to the lowest
    index): (sqdist, global index, rows in X's dtype, weights, labels), on the host."""
    if xb.shape[0] == 0:
        return (np.empty(0), np.empty(0, np.int64), np.empty((0, Cs64.shape[1]), xb.dtype),
                np.empty(0), np.empty(0, np.int64))
    engine, xp = chunk_engine(xb, wb, shift)
    with one_kernel_thread():
        labels, sqdist, _, _ = engine.lloyd_pass(xp.asarray(Cs64), update=False)
    labels, sqdist = _backend.to_host(labels), _backend.to_host(sqdist)
    far = np.argsort(-sqdist, kind="stable")[:m]
    return (sqdist[far], far + start, _backend.to_host(engine.X[far]),
            _backend.to_host(engine.weights[far]), labels[far])


def _merge_farthest(parts, m):
    cols = [np.concatenate([p[i] for p in parts]) for i in range(5)]
    keep = np.lexsort((cols[1], -cols[0]))[:m]  # by distance, then by row index
    return tuple(c[keep] for c in cols)


def relocate_empty_dask(data, Cs64, sums, counts):
    """:func:`_lloyd.relocate_empty_clusters` over the whole dask array; updates sums and counts
    in place. Returns the number of clusters relocated."""
    dask, _ = import_dask()
    m = int((counts == 0).sum())
    C = dask.delayed(np.asarray(Cs64), pure=True)
    parts = [dask.delayed(_chunk_farthest, pure=True)(xb, wb, C, data.shift, m, start)
             for xb, wb, start in data.blocks()]
    sq, index, rows, weights, labels = dask.compute(
        tree_reduce(parts, functools.partial(_merge_farthest, m=m)))[0]
    order = np.argsort(index, kind="stable")  # relocate_empty_clusters breaks ties by position
    engine = CPUEngine(np.ascontiguousarray(rows[order]), weights[order], data.shift)
    return relocate_empty_clusters(engine, sums, counts, labels[order], sq[order])


# -- the iterations -------------------------------------------------------------------------

def lloyd_dask(data, Cs64, *, max_iter, tol, verbose=0, callback=None):
    """Lloyd iterations from Cs64 (k, d) shifted float64 on a :class:`DaskData`.

    Returns (Cs64, inertia, n_iter, counts (k,) of the final assignment).
    """
    d = data.d
    n_iter = 0
    stale = True  # whether Cs64 moved since the last table
    counts = None
    for n_iter in range(1, max_iter + 1):
        table = reduce_stats(data, Cs64)
        sums, counts = table[:, :d].copy(), table[:, d].copy()
        inertia = float(table[:, d + 1].sum())
        assigned = counts.copy()
        if (counts == 0).any():
            relocate_empty_dask(data, Cs64, sums, counts)
        Cs64_new = new_centers(Cs64, sums, counts, np)
        shift_tot = float(((Cs64_new - Cs64) ** 2).sum())
        if verbose:
            print(f"Iteration {n_iter - 1}, inertia {inertia:.6g}, center shift {shift_tot:.6g}.")
        if callback is not None:
            callback(n_iter, inertia)
        stale = shift_tot != 0.0
        Cs64 = Cs64_new
        counts = assigned
        if shift_tot <= tol:
            if verbose:
                print(f"Converged at iteration {n_iter - 1}: center shift {shift_tot:.6g} within "
                      f"tolerance {tol:.6g}.")
            break
    if stale:  # one more pass for the inertia (and counts) of the final centers
        table = reduce_stats(data, Cs64)
        inertia, counts = float(table[:, d + 1].sum()), table[:, d]
    return Cs64, inertia, n_iter, counts


def fit_kmeans_dask(estimator, X, sample_weight=None):
    """``KMeans.fit`` on a dask array: the n_init runs on the persisted data, the best kept."""
    from ._dask_predict import check_dask_device
    device = check_dask_device(estimator, X)
    data = DaskData(X, sample_weight)
    estimator.n_features_in_ = data.d
    estimator.device_ = device
    k, init, n_init = estimator._check_init_params(data.n, data.d, data.dtype,
                                                   inits=("k-means++", "random", "k-means||"))
    check_working_memory(estimator.working_memory)
    rs = check_random_state(estimator.random_state)
    tol = data.mean_variance * float(estimator.tol)
    callback = getattr(estimator, "_progress_callback", None)
    best = None
    for run in range(n_init):
        Cs64 = initial_centers_dask(data, init, k, rs)
        if estimator.verbose:
            print(f"Initialization complete (run {run + 1} of {n_init})")
        result = lloyd_dask(data, Cs64, max_iter=estimator.max_iter, tol=tol,
                            verbose=estimator.verbose, callback=callback)
        if best is None or result[1] < best[1]:
            best = result
    Cs64, inertia, n_iter, counts = best
    estimator.cluster_centers_ = (Cs64 + data.shift64).astype(data.dtype)
    estimator._dask_fit = (Cs64, data.shift)
    estimator.labels_ = lazy_labels(data.source, Cs64, data.shift)
    estimator.inertia_ = inertia
    estimator.n_iter_ = n_iter
    estimator._warn_if_fewer_distinct(k, counts=counts)
    return estimator
