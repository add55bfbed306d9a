"""A fitted K-means model applied to Dask arrays: lazy labels, predict, transform and score.

Each runs the in-memory assignment or distance kernels on every chunk through ``map_blocks``,
so the results are dask arrays chunked like X (``score`` reduces to a float). Centers travel
to the tasks as small NumPy arrays. A chunk holding NaN or Inf raises an error naming it.
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from .._validation import check_finite
from ._dask_data import (check_dask_array, check_dask_weights, chunk_namespace, import_dask,
                         one_kernel_thread, tree_reduce)
from ._distances import nearest_centers_array, pairwise_sqdist_array
from ._engine import make_engine


def check_dask_device(estimator, X):
    """The device the chunks live on ("cpu" for NumPy chunks, "cuda" for CuPy ones), checked
    against ``estimator.device``."""
    meta = getattr(X, "_meta", None)
    device = "cuda" if _backend.is_cupy_array(meta) else "cpu"
    wanted = estimator.device
    if wanted not in _backend.DEVICES:
        raise ValueError(f"device: expected one of {_backend.DEVICES}, got {wanted!r}")
    if wanted != "auto" and wanted != device:
        kind = "CuPy" if device == "cuda" else "NumPy"
        raise ValueError(f"device: {wanted!r} was asked for, but the dask array's chunks are "
                         f"{kind} arrays (map them to the device first, e.g. X.map_blocks("
                         f"cupy.asarray) for 'cuda')")
    return device


def _labels_block(xb, Cs64, shift):
    device, xp = chunk_namespace(xb)
    if xb.shape[0] == 0:
        return xp.empty(0, dtype=np.int64)
    engine = make_engine(xp.ascontiguousarray(xb), None, xp.asarray(shift), device)
    with one_kernel_thread():
        labels, _, _, _ = engine.lloyd_pass(xp.asarray(Cs64), update=False)
    return labels


def lazy_labels(X, Cs64, shift):
    """(n,) int64 dask array chunked like X's rows: each row's nearest center among the shifted
    float64 centers Cs64, computed as the fit's own final assignment."""
    return X.map_blocks(_labels_block, Cs64=np.asarray(Cs64), shift=shift, dtype=np.int64,
                        drop_axis=1, meta=np.empty(0, np.int64))


def _checked_block(xb, block_info):
    device, xp = chunk_namespace(xb)
    index = block_info[0]["chunk-location"][0] if block_info else "?"
    check_finite(xb, f"X (chunk {index} of the dask array)")
    return xp.ascontiguousarray(xb), device


def _predict_block(xb, C, block_info=None):
    xb, device = _checked_block(xb, block_info)
    if xb.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    with one_kernel_thread():
        labels, _ = nearest_centers_array(xb, chunk_namespace(xb)[1].asarray(C), device)
    return labels


def _sqdist_block(xb, C, block_info=None):
    xb, device = _checked_block(xb, block_info)
    xp = chunk_namespace(xb)[1]
    if xb.shape[0] == 0:
        return xp.empty((0, C.shape[0]), dtype=xb.dtype)
    with one_kernel_thread():
        return xp.sqrt(pairwise_sqdist_array(xb, xp.asarray(C), device))


def _score_block(xb, wb, C, index):
    xb, device = _checked_block(xb, [{"chunk-location": (index, 0)}])
    if xb.shape[0] == 0:
        return 0.0
    xp = chunk_namespace(xb)[1]
    with one_kernel_thread():
        _, sqdist = nearest_centers_array(xb, xp.asarray(C), device)
    return float((xp.asarray(wb) * sqdist).sum())


def _sum(parts):
    total = 0.0
    for p in parts:
        total += p
    return total


def check_fitted_input(estimator, X):
    """X checked for a fitted estimator (rows-only chunks, the fitted feature count)."""
    X = check_dask_array(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X: X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input (the data seen "
                         "in fit)")
    return X


def _centers(estimator, X):
    return estimator.cluster_centers_.astype(X.dtype, copy=False)


def predict_dask(estimator, X):
    """(n,) int64 dask array of nearest-center indices, chunked like X's rows."""
    X = check_fitted_input(estimator, X)
    return X.map_blocks(_predict_block, C=_centers(estimator, X), dtype=np.int64, drop_axis=1,
                        meta=np.empty(0, np.int64))


def transform_dask(estimator, X):
    """(n, n_clusters) dask array of Euclidean distances to the centers, in X's dtype."""
    X = check_fitted_input(estimator, X)
    k = estimator.cluster_centers_.shape[0]
    return X.map_blocks(_sqdist_block, C=_centers(estimator, X), dtype=X.dtype,
                        chunks=(X.chunks[0], (k,)), meta=np.empty((0, 0), X.dtype))


def score_dask(estimator, X, sample_weight=None):
    """Minus the weighted inertia of X against the fitted centers: one compute, a float."""
    dask, _ = import_dask()
    X = check_fitted_input(estimator, X)
    w = check_dask_weights(sample_weight, X)
    C = dask.delayed(_centers(estimator, X), pure=True)
    parts = [dask.delayed(_score_block, pure=True)(xb, wb, C, i)
             for i, (xb, wb) in enumerate(zip(X.to_delayed().ravel(), w.to_delayed().ravel()))]
    return -float(dask.compute(tree_reduce(parts, _sum))[0])
