"""Greedy k-means++ seeding (Arthur & Vassilvitskii, with scikit-learn's greedy local trials).

The random draws follow scikit-learn's ``_kmeans_plusplus`` call for call (a ``RandomState``:
one weighted ``choice`` for the first center, then ``uniform(size=n_local_trials)`` per center),
so the same seed picks the same candidates as scikit-learn whenever the float arithmetic agrees.
Each step is one fused pass over the data on the engine (distance to every candidate and the
potential each candidate would give), so seeding costs about one Lloyd iteration per
``n_clusters / (k / n_local_trials)``, not a full distance matrix.
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from .._backend import to_host
from .._validation import (check_array, check_int, check_random_state, check_sample_weight,
                           check_sparse, is_sparse)
from ._engine import make_engine
from ._moments import data_moments


def default_local_trials(n_clusters: int) -> int:
    """scikit-learn's rule: 2 + floor(log k)."""
    return 2 + int(np.log(n_clusters))


def plusplus(engine, n_clusters, random_state, n_local_trials=None):
    """Greedy k-means++ on an engine. Returns (Cs64 (k, d) shifted float64 centers on the engine's
    device, indices (k,) int64 on the host)."""
    xp = engine.xp
    n = engine.X.shape[0]
    if n_local_trials is None:
        n_local_trials = default_local_trials(n_clusters)
    w_host = to_host(engine.weights)
    indices = np.empty(n_clusters, dtype=np.int64)
    indices[0] = random_state.choice(n, p=w_host / w_host.sum())
    state = engine.plusplus_start(indices[0], n_clusters)
    pot = float((engine.weights * state.closest).sum())
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * pot
        cumulative = xp.cumsum(engine.weights * state.closest)
        cand = xp.searchsorted(cumulative, xp.asarray(rand_vals))
        cand = to_host(xp.minimum(cand, n - 1))
        pots = to_host(engine.plusplus_potentials(state, cand))
        best = int(np.argmin(pots))
        pot = float(pots[best])
        engine.plusplus_take(state, best)
        indices[c] = int(cand[best])
    Cs64 = engine.rows(xp.asarray(indices) if xp is not np else indices)
    return Cs64, indices


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None, random_state=None,
                    n_local_trials=None, device="auto"):
    """Initial centers for K-means by greedy k-means++ (as ``sklearn.cluster.kmeans_plusplus``).

    Parameters
    ----------
    X : (n, d) array (NumPy, CuPy or torch) or scipy sparse matrix (CSR/CSC, on the CPU);
        float32 stays float32, other reals become float64.
    n_clusters : number of centers, 1 <= n_clusters <= n.
    sample_weight : (n,) non-negative weights, or None for ones; rows are drawn in proportion to
        weight times squared distance.
    x_squared_norms : (n,) squared row norms, or None. Accepted for scikit-learn compatibility
        and checked for shape; fastseq computes its distances on shifted data and does not use
        them.
    random_state : None, int, numpy RandomState or Generator (drawn through its bit generator).
    n_local_trials : candidates tried per center; None means 2 + floor(log k).
    device : "auto" | "cpu" | "cuda".

    Returns
    -------
    centers : (n_clusters, d) rows of X, in X's dtype and the caller's array type (dense NumPy
        for sparse X).
    indices : (n_clusters,) int64 row indices of the chosen centers (same array type).
    """
    if is_sparse(X):  # CSR kernels on the CPU; centers come back dense
        if device == "cuda":
            raise ValueError("device: sparse X runs on the CPU only; expected 'auto' or 'cpu', "
                             "got 'cuda' (or pass a dense array)")
        X, origin, device = check_sparse(X, "X"), _backend.Origin("numpy"), "cpu"
    else:
        X, origin = _backend.unwrap(X)
        device = _backend.resolve_device(device, X)
        X = check_array(X, "X")
    n_clusters = check_int(n_clusters, "n_clusters", minimum=1, maximum=X.shape[0])
    if n_local_trials is not None:
        n_local_trials = check_int(n_local_trials, "n_local_trials", minimum=1)
    if x_squared_norms is not None:
        norms = check_array(_backend.unwrap(x_squared_norms)[0], "x_squared_norms", ndim=(1, 2))
        if norms.ndim != 1 or norms.shape[0] != X.shape[0]:
            raise ValueError(f"x_squared_norms: expected shape ({X.shape[0]},) to match X, got "
                             f"shape {norms.shape} (The length of x_squared_norms "
                             f"{norms.shape[0]} should be equal to the length of n_samples "
                             f"{X.shape[0]})")
    rs = check_random_state(random_state)
    X = _backend.to_device(X, device)
    xp = _backend.get_namespace(device)
    w = check_sample_weight(sample_weight, X.shape[0], np.float64, xp=xp)
    shift = data_moments(X, xp)[0].astype(X.dtype)
    engine = make_engine(X, w, shift, device)
    _, indices = plusplus(engine, n_clusters, rs, n_local_trials)
    centers = X[xp.asarray(indices) if xp is not np else indices]
    if is_sparse(centers):
        centers = centers.toarray()
    return _backend.wrap(centers, origin), _backend.wrap(xp.asarray(indices), origin)
