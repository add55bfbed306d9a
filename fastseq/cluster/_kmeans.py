"""``fastseq.KMeans``: Lloyd K-means with scikit-learn's API and semantics, on CPU and GPU.

This module validates, decides the device, runs the n_init restarts and keeps the best; the
iterations are in ``_lloyd.py``, the seeding in ``_kmeans_plusplus.py`` and the arithmetic in the
per-device engines of ``_engine.py``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import _backend
from .._sklearn_compat import (BaseEstimator, ClusterMixin, ConvergenceWarning, NotFittedError,
                               TransformerMixin)
from .._validation import (check_random_state, check_array, check_float, check_int,
                           check_sample_weight, check_working_memory)
from ._engine import make_engine
from ._kmeans_plusplus import data_moments, plusplus
from ._lloyd import lloyd

INITS = ("k-means++", "random")


def validate_data(estimator, X, *, reset, name="X"):
    """Unwrap and check X for an estimator: (array on the resolved device, origin, device).

    With ``reset`` the device is resolved from ``estimator.device`` and X, and n_features_in_ is
    set; otherwise X must have the fitted feature count and runs on the fitted device.
    """
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(f"{name}: expected a dense array, got a sparse matrix "
                        f"({type(X).__name__}); convert it with .toarray()")
    X, origin = _backend.unwrap(X)
    device = _backend.resolve_device(estimator.device, X) if reset else estimator.device_
    X = check_array(X, name)
    if reset:
        estimator.n_features_in_ = X.shape[1]
    else:
        if X.shape[1] != estimator.n_features_in_:
            raise ValueError(f"{name}: X has {X.shape[1]} features, but {type(estimator).__name__}"
                             f" is expecting {estimator.n_features_in_} features as input (the "
                             "data seen in fit)")
    return _backend.to_device(X, device), origin, device


def check_fitted(estimator, attribute="cluster_centers_"):
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet; call "
                             "'fit' with appropriate arguments before using this estimator.")


def initial_centers(engine, init, n_clusters, rs, n_features, dtype):
    """Shifted float64 initial centers (k, d) on the engine's device, from an ``init`` spec."""
    xp = engine.xp
    n = engine.X.shape[0]
    if isinstance(init, str) and init == "k-means++":
        Cs64, _ = plusplus(engine, n_clusters, rs)
        return Cs64
    if isinstance(init, str) and init == "random":
        w = engine.to_host(engine.weights)
        seeds = rs.choice(n, size=n_clusters, replace=False, p=w / w.sum())
        return engine.rows(xp.asarray(seeds) if xp is not np else seeds)
    if callable(init):
        X_host = engine.X if xp is np else engine.to_host(engine.X)
        centers = init(X_host, n_clusters, random_state=rs)
        centers = check_init_array(centers, n_clusters, n_features, dtype, "init (returned by "
                                   "the callable)")
    else:
        centers = init  # already checked: a NumPy (k, d) array
    return xp.asarray(centers, dtype=np.float64) - engine.shift64


def check_init_array(init, n_clusters, n_features, dtype, name="init"):
    init, _ = _backend.unwrap(init)
    init = check_array(init, name, dtype=dtype)
    if init.shape != (n_clusters, n_features):
        raise ValueError(f"{name}: expected an array of shape ({n_clusters}, {n_features}) "
                         f"(n_clusters, n_features), got shape {init.shape}")
    return np.asarray(_backend.to_device(init, "cpu"))


class FittedCentersMixin:
    """predict / transform / score for estimators with ``cluster_centers_`` (KMeans and
    MiniBatchKMeans): chunked, on the device the fit ran on, results in the caller's type."""

    def _assign(self, X):
        from ._distances import nearest_centers_array
        check_fitted(self)
        X, origin, device = validate_data(self, X, reset=False)
        C = _backend.to_device(self.cluster_centers_.astype(X.dtype, copy=False), device)
        labels, sqdist = nearest_centers_array(X, C, device, self._working_memory())
        return X, origin, device, labels, sqdist

    def _working_memory(self):
        return getattr(self, "working_memory", None)

    def predict(self, X):
        """Index of the nearest center of each row: (n,) int64 in X's array type."""
        _, origin, _, labels, _ = self._assign(X)
        return _backend.wrap(labels, origin)

    def transform(self, X):
        """Euclidean distances to every center: (n, n_clusters) in X's dtype and array type."""
        from ._distances import pairwise_sqdist
        check_fitted(self)
        X, origin, device = validate_data(self, X, reset=False)
        C = _backend.to_device(self.cluster_centers_.astype(X.dtype, copy=False), device)
        D = pairwise_sqdist(X, C, device=device, working_memory=self._working_memory())
        xp = _backend.get_namespace(device)
        return _backend.wrap(xp.sqrt(D), origin)

    def score(self, X, y=None, sample_weight=None):
        """Minus the (weighted) inertia of X against the fitted centers (higher is better)."""
        X, _, device, _, sqdist = self._assign(X)
        xp = _backend.get_namespace(device)
        w = check_sample_weight(sample_weight, X.shape[0], np.float64, xp=xp)
        return -float((w * sqdist).sum())


class KMeans(FittedCentersMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means clustering (Lloyd's algorithm), as ``sklearn.cluster.KMeans`` with a ``device``.

    Parameters
    ----------
    n_clusters : int, default 8.
    init : "k-means++" (greedy, 2 + log k local trials, weighted), "random" (rows drawn in
        proportion to their weights), an array (n_clusters, n_features), or a callable
        ``init(X, n_clusters, random_state=RandomState) -> (n_clusters, n_features)``.
    n_init : "auto" or int. "auto" runs 1 initialisation for k-means++, an array or a callable,
        10 for "random"; the run with the lowest inertia is kept.
    max_iter : int, default 300. Maximum Lloyd iterations per run.
    tol : float, default 1e-4. Converged when the total squared center shift is at most
        ``tol`` times the mean feature variance (or when no label changes).
    verbose : int. Print each iteration's inertia and center shift.
    random_state : None, int or numpy RandomState.
    copy_x : bool, default True. fastseq never modifies X (it shifts each chunk as it reads it),
        so this is accepted for compatibility and has no effect.
    device : "auto" | "cpu" | "cuda". CuPy or CUDA torch input implies "cuda".
    working_memory : MiB of scratch for the distance tiles (None: cache-sized on the CPU, 1 GiB on
        the GPU). The n x k matrix is never formed.

    Attributes
    ----------
    cluster_centers_ : (n_clusters, n_features) NumPy array in X's dtype (float32 or float64).
    labels_ : (n_samples,) int64 NumPy array, equal to ``predict(X)``.
    inertia_ : float, Σ w·||x - center||², accumulated in float64.
    n_iter_ : int, iterations of the kept run.
    n_features_in_ : int.
    device_ : "cpu" or "cuda", where the fit ran.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, device="auto", working_memory=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.device = device
        self.working_memory = working_memory

    # -- parameters --------------------------------------------------------------------------

    def _check_params(self, n_samples, n_features, dtype):
        k = check_int(self.n_clusters, "n_clusters", minimum=1)
        if k > n_samples:
            raise ValueError(f"n_clusters: expected at most n_samples={n_samples}, got {k}")
        check_int(self.max_iter, "max_iter", minimum=1)
        check_float(self.tol, "tol", minimum=0.0)
        check_int(self.verbose, "verbose", minimum=0)
        check_working_memory(self.working_memory)
        init = self.init
        if isinstance(init, str):
            if init not in INITS:
                raise ValueError(f"init: expected one of {INITS}, an array or a callable, "
                                 f"got {init!r}")
        elif not callable(init):
            init = check_init_array(init, k, n_features, dtype)
        if isinstance(self.n_init, str):
            if self.n_init != "auto":
                raise ValueError(f"n_init: expected 'auto' or an integer >= 1, got {self.n_init!r}")
            n_init = 10 if isinstance(init, str) and init == "random" else 1
        else:
            n_init = check_int(self.n_init, "n_init", minimum=1)
        if not isinstance(init, str) and not callable(init) and n_init != 1:
            warnings.warn(f"Explicit initial center position passed: performing only one init in "
                          f"{type(self).__name__} instead of n_init={n_init}.", RuntimeWarning,
                          stacklevel=3)
            n_init = 1
        return k, init, n_init

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering.

        X : (n_samples, n_features) array: NumPy (a memmap is read chunk by chunk), CuPy or torch.
        y : ignored.
        sample_weight : (n_samples,) non-negative weights, or None. Integer weights give the same
            result as repeating rows.
        Returns self.
        """
        X, _, device = validate_data(self, X, reset=True)
        self.device_ = device
        xp = _backend.get_namespace(device)
        n, d = X.shape
        k, init, n_init = self._check_params(n, d, X.dtype)
        w = check_sample_weight(sample_weight, n, np.float64, xp=xp)
        rs = check_random_state(self.random_state)
        mean, mean_variance = data_moments(X, xp)
        shift = mean.astype(X.dtype)
        tol = mean_variance * float(self.tol)
        engine = make_engine(X, w, shift, device, self.working_memory)
        callback = getattr(self, "_progress_callback", None)
        best = None
        for run in range(n_init):
            Cs64 = initial_centers(engine, init, k, rs, d, X.dtype)
            if self.verbose:
                print(f"Initialization complete (run {run + 1} of {n_init})")
            result = lloyd(engine, Cs64, max_iter=self.max_iter, tol=tol, verbose=self.verbose,
                           callback=callback)
            if best is None or result.inertia < best.inertia:
                best = result
        C, _, _ = engine.centers(best.Cs64)
        self.cluster_centers_ = np.asarray(engine.to_host(C))
        self.labels_ = np.asarray(engine.to_host(best.labels))
        self.inertia_ = best.inertia
        self.n_iter_ = best.n_iter
        distinct = int((np.bincount(self.labels_, minlength=k) > 0).sum())
        if distinct < k:
            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than "
                          f"n_clusters ({k}). Possibly due to duplicate points in X.",
                          ConvergenceWarning, stacklevel=2)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """fit, then the labels of X (in X's array type)."""
        _, origin = _backend.unwrap(X)
        self.fit(X, sample_weight=sample_weight)
        return _backend.wrap(self.labels_, origin)

    def fit_transform(self, X, y=None, sample_weight=None):
        """fit, then the Euclidean distances of X to the centers (in X's array type)."""
        return self.fit(X, sample_weight=sample_weight).transform(X)
