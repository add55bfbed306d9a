"""MiniBatchKMeans on a Dask array: batches drawn across the chunks, the steps on the driver.

``fit`` persists X, then runs the in-memory mini-batch steps (``MiniBatchKMeans._step``, the
same early stopping) on the driver. Batches are drawn by the estimator's generator with
replacement in proportion to the sample weights, as in memory, but fetched PREFETCH_ROWS rows at
a time (``DaskData.draw``: the generator splits the rows over the chunks and seeds each chunk's
draw), so a fit costs one ``compute`` per PREFETCH_ROWS // batch_size steps and the driver holds
O(PREFETCH_ROWS · d) numbers. The initialisation runs on samples of ``init_size`` rows, judged on
another sample, as in memory. With ``compute_labels`` the labels are lazy and the inertia one
Lloyd-table pass.

``partial_fit`` on a dask array streams its chunks in order, one ``compute`` and one
in-memory ``partial_fit`` step per chunk.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_random_state
from ._dask_data import DaskData, check_dask_array, check_dask_weights, import_dask
from ._dask_init import sample_rows
from ._dask_passes import reduce_stats
from ._dask_predict import check_dask_device, lazy_labels
from ._engine import CPUEngine
from ._kmeans_base import initial_centers

PREFETCH_ROWS = 1 << 16


def _init_centers(estimator, data, init, k, n_init, init_size, rs):
    """The best of n_init initialisations, each on a sample of init_size rows, judged on a
    validation sample: shifted float64 centers (k, d)."""
    rows, weights = sample_rows(data, init_size, rs)
    valid = CPUEngine(rows, weights, data.shift)
    best = best_inertia = None
    for run in range(n_init):
        rows, weights = sample_rows(data, init_size, rs)
        engine = CPUEngine(rows, weights, data.shift)
        Cs64 = initial_centers(engine, init, k, rs, data.d, data.dtype)
        _, sqdist, _, _ = valid.lloyd_pass(Cs64, update=False)
        inertia = float((valid.weights * sqdist).sum())
        if estimator.verbose:
            print(f"Inertia for init {run + 1}/{n_init}: {inertia}")
        if best is None or inertia < best_inertia:
            best, best_inertia = Cs64, inertia
    return np.array(best, dtype=np.float64)


def fit_minibatch_dask(estimator, X, sample_weight, stopping):
    """``MiniBatchKMeans.fit`` on a dask array; ``stopping`` is the early-stopping rule's class
    (``_minibatch._Stopping``)."""
    device = check_dask_device(estimator, X)
    data = DaskData(X, sample_weight)
    estimator.n_features_in_ = data.d
    estimator.device_ = device
    n = data.n
    k, init, n_init, batch, init_size = estimator._check_params(n, data.d, data.dtype)
    rs = check_random_state(estimator.random_state)
    tol = data.mean_variance * float(estimator.tol) if estimator.tol else 0.0
    Cs64 = _init_centers(estimator, data, init, k, n_init, init_size, rs)
    counts = np.zeros(k)
    n_steps = max(1, (int(estimator.max_iter) * n) // batch)
    stop = stopping(batch, n, tol, estimator.max_no_improvement, estimator.verbose)
    unit = np.ones(batch)
    per_fetch = max(1, PREFETCH_ROWS // batch)
    ratio = float(estimator.reassignment_ratio)
    callback = getattr(estimator, "_progress_callback", None)
    since_reassign = 0
    rows = None
    step = 0
    for step in range(n_steps):
        j = step % per_fetch
        if j == 0:
            rows = data.draw(min(per_fetch, n_steps - step) * batch, rs)
        engine = CPUEngine(rows[j * batch:(j + 1) * batch], unit, data.shift)
        since_reassign += batch
        reassign = since_reassign >= 10 * k
        if reassign:
            since_reassign = 0
        old = Cs64.copy() if tol > 0 else None
        inertia = estimator._step(engine, Cs64, counts, ratio, reassign, rs, np)
        shift_sq = float(((Cs64 - old) ** 2).sum()) if tol > 0 else 0.0
        if callback is not None:
            callback(step + 1, inertia)
        if stop(step, n_steps, inertia, shift_sq):
            break
    estimator.cluster_centers_ = (Cs64 + data.shift64).astype(data.dtype)
    estimator._Cs64, estimator._counts, estimator._shift = Cs64, counts, data.shift
    estimator.n_steps_ = step + 1
    estimator.n_iter_ = int(np.ceil((step + 1) * batch / n))
    if estimator.compute_labels:
        estimator.labels_ = lazy_labels(data.source, Cs64, data.shift)
        estimator.inertia_ = float(reduce_stats(data, Cs64)[:, data.d + 1].sum())
    else:  # as in memory: the smoothed batch inertia, scaled to the whole data
        ewa = stop.ewa
        estimator.inertia_ = float("nan") if ewa is None else ewa * data.total_weight
    return estimator


def partial_fit_dask(estimator, X, sample_weight=None):
    """``partial_fit`` over the chunks of a dask array, in order (empty chunks skipped)."""
    dask, _ = import_dask()
    X = check_dask_array(X)
    w = None if sample_weight is None else check_dask_weights(sample_weight, X)
    xs = X.to_delayed().ravel()
    ws = [None] * len(xs) if w is None else list(w.to_delayed().ravel())
    for i, (xb, wb) in enumerate(zip(xs, ws)):
        if X.chunks[0][i] == 0:
            continue
        xb, wb = dask.compute(xb, wb)
        estimator.partial_fit(xb, sample_weight=wb)
    return estimator
