"""``fastseq.KMeans``: Lloyd K-means with scikit-learn's API and semantics, on CPU and GPU.

This module runs the n_init restarts and keeps the best; the checks, the initial centers and
predict / transform / score are in ``_kmeans_base.py``, the iterations in ``_lloyd.py``, the
seeding in ``_kmeans_plusplus.py`` and the arithmetic in the per-device engines of ``_engine.py``.
"""

from __future__ import annotations

import warnings

from .. import _backend
from .._validation import check_working_memory
from ._engine import make_engine
from ._kmeans_base import ALGORITHMS, BaseKMeans, initial_centers
from ._lloyd import lloyd


class KMeans(BaseKMeans):
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
    random_state : None, int, numpy RandomState or Generator.
    copy_x : bool, default True. fastseq never modifies X (it shifts each chunk as it reads it),
        so this is accepted for compatibility and has no effect.
    algorithm : "lloyd" | "elkan". Accepted for compatibility: both run fastseq's exact Lloyd
        iteration with Hamerly bounds, which reaches the same centers as either of
        scikit-learn's (Elkan's method is an exact acceleration of Lloyd's).
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
                 verbose=0, random_state=None, copy_x=True, algorithm="lloyd", device="auto",
                 working_memory=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.device = device
        self.working_memory = working_memory

    # -- parameters --------------------------------------------------------------------------

    def _check_params(self, n_samples, n_features, dtype):
        params = self._check_init_params(n_samples, n_features, dtype)
        if not isinstance(self.algorithm, str) or self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm: expected one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.algorithm == "elkan" and params[0] == 1:
            warnings.warn("algorithm='elkan' doesn't make sense for a single cluster. Using "
                          "'lloyd' instead.", RuntimeWarning, stacklevel=4)
        check_working_memory(self.working_memory)
        return params

    # -- fitting -----------------------------------------------------------------------------

    def _fit_dask(self, X, sample_weight):
        from ._dask_lloyd import fit_kmeans_dask
        return fit_kmeans_dask(self, X, sample_weight)

    def _fit_centers(self, data, k, init, n_init):
        """Run the n_init Lloyd runs on validated data (a :class:`FitData`); keep the best."""
        X = data.X
        tol = data.mean_variance * float(self.tol)
        engine = make_engine(X, data.weights, data.shift, data.device, self.working_memory)
        callback = getattr(self, "_progress_callback", None)
        best = None
        for run in range(n_init):
            Cs64 = initial_centers(engine, init, k, data.rs, X.shape[1], X.dtype)
            if self.verbose:
                print(f"Initialization complete (run {run + 1} of {n_init})")
            result = lloyd(engine, Cs64, max_iter=self.max_iter, tol=tol, verbose=self.verbose,
                           callback=callback)
            if best is None or result.inertia < best.inertia:
                best = result
        C, _, _ = engine.centers(best.Cs64)
        self.cluster_centers_ = _backend.to_host(C)
        self.labels_ = _backend.to_host(best.labels)
        self.inertia_ = best.inertia
        self.n_iter_ = best.n_iter
        self._warn_if_fewer_distinct(k)
