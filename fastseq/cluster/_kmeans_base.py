"""What KMeans and MiniBatchKMeans share: the data and parameter checks, the initial centers, and
predict / transform / score against the fitted centers.

As scikit-learn's ``_BaseKMeans``: the estimators differ only in how ``fit`` moves the centers.
Public methods validate and then call private ``_*_array`` helpers that work on validated
arrays already on the device (``select_k`` calls them too, so X is checked once).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import _backend
from .._sklearn_compat import (BaseEstimator, ClusterMixin, ConvergenceWarning, NotFittedError,
                               TransformerMixin, check_feature_names)
from .._validation import (check_array, check_float, check_int, check_random_state,
                           check_sample_weight, check_sparse, is_sparse)
from . import _dask_predict
from ._distances import nearest_centers_array, pairwise_sqdist_array
from ._kmeans_plusplus import plusplus
from ._moments import data_moments

INITS = ("k-means++", "random")
# both run fastseq's exact bounded Lloyd, which reaches the same centers as either
ALGORITHMS = ("lloyd", "elkan")


def validate_data(estimator, X, *, reset, name="X"):
    """Unwrap and check X for an estimator: (array on the resolved device, origin, device).

    With ``reset`` the device is resolved from ``estimator.device`` and X, and n_features_in_ is
    set; otherwise X must have the fitted feature count and runs on the fitted device.
    """
    check_feature_names(estimator, X, reset=reset)
    if is_sparse(X):  # sparse data runs on the CPU (CSR kernels), whatever the fit's device
        if reset and estimator.device == "cuda":
            raise ValueError(f"device: sparse {name} runs on the CPU only; expected device='auto'"
                             " or 'cpu', got 'cuda' (or pass a dense array)")
        X, origin, device = check_sparse(X, name), _backend.Origin("numpy"), "cpu"
    else:
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


def check_init_array(init, n_clusters, n_features, dtype, name="init"):
    """An ``init`` array (any array type) as a (n_clusters, n_features) NumPy array of ``dtype``."""
    init, _ = _backend.unwrap(init)
    init = check_array(init, name, dtype=dtype)
    if init.shape != (n_clusters, n_features):
        what = (f"the number of clusters {n_clusters}" if init.shape[0] != n_clusters else
                f"the number of features of the data {n_features}")
        raise ValueError(f"{name}: expected an array of shape ({n_clusters}, {n_features}) "
                         f"(n_clusters, n_features), got shape {init.shape} (The shape of the "
                         f"initial centers {init.shape} does not match {what})")
    return _backend.to_host(init)


def initial_centers(engine, init, n_clusters, rs, n_features, dtype):
    """Shifted float64 initial centers (k, d) on the engine's device, from an ``init`` spec."""
    xp = engine.xp
    n = engine.X.shape[0]
    if isinstance(init, str) and init == "k-means++":
        Cs64, _ = plusplus(engine, n_clusters, rs)
        return Cs64
    if isinstance(init, str) and init == "random":
        w = _backend.to_host(engine.weights)
        positive = int(np.count_nonzero(w > 0))
        if positive < n_clusters:
            raise ValueError(f"init: 'random' draws n_clusters={n_clusters} distinct rows of "
                             f"positive weight, but sample_weight has only {positive} positive "
                             "value(s); use init='k-means++', fewer clusters or more weight")
        seeds = rs.choice(n, size=n_clusters, replace=False, p=w / w.sum())
        return engine.rows(xp.asarray(seeds) if xp is not np else seeds)
    if callable(init):
        centers = init(_backend.to_host(engine.X), n_clusters, random_state=rs)
        centers = check_init_array(centers, n_clusters, n_features, dtype, "init (returned by "
                                   "the callable)")
    else:
        centers = init  # already checked: a NumPy (k, d) array
    return xp.asarray(centers, dtype=np.float64) - engine.shift64


class FitData:
    """Validated inputs of a fit: X (n, d) on ``device``, weights (n,) float64, the generator,
    the shift (the data's mean in X's dtype) and the mean feature variance (tol's scale)."""

    def __init__(self, X, device, weights, rs, shift, mean_variance):
        self.X, self.device, self.weights, self.rs = X, device, weights, rs
        self.shift, self.mean_variance = shift, mean_variance
        self.xp = _backend.get_namespace(device)


class BaseKMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """Shared base of KMeans and MiniBatchKMeans (private)."""

    # n_init="auto" runs this many initialisations for init="random" (one for the others)
    _auto_n_init_random = 10

    def _check_init_params(self, n_samples, n_features, dtype, inits=INITS):
        """(k, init, n_init) after checking n_clusters, max_iter, tol, verbose, init, n_init
        (``inits``: the init names the caller's data path offers)."""
        k = check_int(self.n_clusters, "n_clusters", minimum=1)
        if k > n_samples:
            raise ValueError(f"n_clusters: expected at most n_samples={n_samples}, got {k} "
                             f"(n_samples={n_samples} should be >= n_clusters={k})")
        check_int(self.max_iter, "max_iter", minimum=1)
        check_float(self.tol, "tol", minimum=0.0)
        # scikit-learn takes a bool or an int (True prints as 1 does)
        check_int(int(self.verbose) if isinstance(self.verbose, (bool, np.bool_)) else self.verbose,
                  "verbose", minimum=0)
        init = self.init
        if isinstance(init, str):
            if init not in inits:
                raise ValueError(f"init: expected one of {inits}, an array or a callable, "
                                 f"got {init!r}")
        elif not callable(init):
            init = check_init_array(init, k, n_features, dtype)
        if isinstance(self.n_init, str):
            if self.n_init != "auto":
                raise ValueError(f"n_init: expected 'auto' or an integer >= 1, got {self.n_init!r}")
            # as scikit-learn: one run for k-means++ or an array, the default count otherwise
            seeded = (isinstance(init, str) and init == "random") or callable(init)
            n_init = self._auto_n_init_random if seeded else 1
        else:
            n_init = check_int(self.n_init, "n_init", minimum=1)
        if not isinstance(init, str) and not callable(init) and n_init != 1:
            warnings.warn(f"Explicit initial center position passed: performing only one init in "
                          f"{type(self).__name__} instead of n_init={n_init}.", RuntimeWarning,
                          stacklevel=5)
            n_init = 1
        self._n_init = n_init  # the resolved count, under scikit-learn's name
        return k, init, n_init

    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering.

        X : (n_samples, n_features) array: NumPy (a memmap is read chunk by chunk), CuPy, torch,
            or a dask array chunked along rows (fitted on its cluster; ``labels_`` is then a lazy
            dask array, see ``_dask_lloyd.py``).
        y : ignored.
        sample_weight : (n_samples,) non-negative weights, or None. Integer weights give the same
            result as repeating rows.
        Returns self.
        """
        if _backend.is_dask_array(X):
            return self._fit_dask(X, sample_weight)
        X, _, device = validate_data(self, X, reset=True)
        return self._fit_array(X, device, sample_weight)

    def _fit_array(self, X, device, sample_weight=None):
        """:meth:`fit` on X already validated (C-contiguous float32/float64) and on ``device``."""
        self.n_features_in_ = X.shape[1]
        self.device_ = device
        params = self._check_params(*X.shape, X.dtype)
        xp = _backend.get_namespace(device)
        w = check_sample_weight(sample_weight, X.shape[0], np.float64, xp=xp)
        rs = check_random_state(self.random_state)
        mean, mean_variance = data_moments(X, xp)
        self._fit_centers(FitData(X, device, w, rs, mean.astype(X.dtype), mean_variance), *params)
        return self

    def _warn_if_fewer_distinct(self, k, counts=None):
        if counts is None:
            counts = np.bincount(self.labels_, minlength=k)
        distinct = int((counts > 0).sum())
        if distinct < k:
            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than "
                          f"n_clusters ({k}). Possibly due to duplicate points in X.",
                          ConvergenceWarning, stacklevel=5)

    def __sklearn_tags__(self):
        """scikit-learn's tags (only called where scikit-learn is installed): sparse accepted."""
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def get_feature_names_out(self, input_features=None):
        """Names of the transform's output columns: ``"<estimator>0"`` ... (object array)."""
        check_fitted(self)
        if input_features is not None:
            expected = getattr(self, "feature_names_in_", None)
            names = np.asarray(input_features, dtype=object)
            if len(names) != self.n_features_in_ or (
                    expected is not None and np.any(names != expected)):
                raise ValueError("input_features: expected the feature names seen in fit "
                                 f"({self.n_features_in_} of them), got {list(names)}")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.cluster_centers_.shape[0])],
                          dtype=object)

    def fit_predict(self, X, y=None, sample_weight=None):
        """fit, then the labels of X (in X's array type)."""
        _, origin = _backend.unwrap(X)
        self.fit(X, sample_weight=sample_weight)
        if _backend.is_dask_array(X):
            return self.labels_
        return _backend.wrap(self.labels_, origin)

    def fit_transform(self, X, y=None, sample_weight=None):
        """fit, then the Euclidean distances of X to the centers (in X's array type)."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    # -- against the fitted centers --------------------------------------------------------

    def _working_memory(self):
        return getattr(self, "working_memory", None)

    def _centers_for(self, X, device):
        return _backend.to_device(self.cluster_centers_.astype(X.dtype, copy=False), device)

    def _assign(self, X):
        check_fitted(self)
        X, origin, device = validate_data(self, X, reset=False)
        labels, sqdist = nearest_centers_array(X, self._centers_for(X, device), device,
                                               self._working_memory())
        return X, origin, device, labels, sqdist

    def predict(self, X):
        """Index of the nearest center of each row: (n,) int64 in X's array type."""
        if _backend.is_dask_array(X):
            check_fitted(self)
            return _dask_predict.predict_dask(self, X)
        _, origin, _, labels, _ = self._assign(X)
        return _backend.wrap(labels, origin)

    def transform(self, X):
        """Euclidean distances to every center: (n, n_clusters) in X's dtype and array type."""
        check_fitted(self)
        if _backend.is_dask_array(X):
            return _dask_predict.transform_dask(self, X)
        X, origin, device = validate_data(self, X, reset=False)
        D = pairwise_sqdist_array(X, self._centers_for(X, device), device, self._working_memory())
        return _backend.wrap(_backend.get_namespace(device).sqrt(D), origin)

    def score(self, X, y=None, sample_weight=None):
        """Minus the (weighted) inertia of X against the fitted centers (higher is better)."""
        if _backend.is_dask_array(X):
            check_fitted(self)
            return _dask_predict.score_dask(self, X, sample_weight)
        X, _, device, _, sqdist = self._assign(X)
        xp = _backend.get_namespace(device)
        w = check_sample_weight(sample_weight, X.shape[0], np.float64, xp=xp)
        return -float((w * sqdist).sum())
