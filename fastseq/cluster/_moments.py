"""The data's column means and mean variance: the shift that keeps float32 distances accurate far
from the origin, and scikit-learn's tolerance scale."""

from __future__ import annotations

import numpy as np

from .._threads import parallel_calls
from .._validation import is_sparse
from ._chunking import stream_layout


def data_moments(X, xp):
    """(column means (d,) float64, mean over columns of the column variances), in one pass.

    X (n, d) float32/float64 on the namespace ``xp``. On the CPU a Numba pass (a memmap is read
    chunk by chunk, never loaded whole); on the GPU CuPy's reductions.
    """
    if is_sparse(X):  # scipy sparse (CSR)
        n = X.shape[0]
        mean = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel() / n
        sq = np.asarray(X.multiply(X).sum(axis=0, dtype=np.float64)).ravel() / n
        return mean, float(np.maximum(sq - mean * mean, 0.0).mean())
    if xp is not np:
        return X.mean(axis=0, dtype=np.float64), float(X.var(axis=0, dtype=np.float64).mean())
    from ._moments_cpu import column_moments
    n, d = X.shape
    chunk, slots = stream_layout(n)
    sums = np.empty((slots, d))
    sumsq = np.empty((slots, d))
    with parallel_calls():
        column_moments(X, chunk, sums, sumsq)
    m1 = sums.sum(axis=0) / n
    m2 = sumsq.sum(axis=0) / n
    mean = np.asarray(X[0], dtype=np.float64) + m1
    return mean, float(np.maximum(m2 - m1 * m1, 0.0).mean())
