"""``fastseq.k_means``: the function form of :class:`KMeans`, as ``sklearn.cluster.k_means``."""

from __future__ import annotations

from ._kmeans import KMeans


def k_means(X, n_clusters, *, sample_weight=None, init="k-means++", n_init="auto", max_iter=300,
            verbose=False, tol=1e-4, random_state=None, copy_x=True, algorithm="lloyd",
            return_n_iter=False, device="auto", working_memory=None):
    """Fit :class:`KMeans` on X and return its results.

    Parameters are :class:`KMeans`'s (X (n_samples, n_features), sample_weight (n_samples,)).

    Returns
    -------
    centers : (n_clusters, n_features) NumPy array in X's dtype.
    labels : (n_samples,) int64 NumPy array.
    inertia : float.
    n_iter : int, only with ``return_n_iter=True``.
    """
    est = KMeans(n_clusters, init=init, n_init=n_init, max_iter=max_iter, verbose=verbose,
                 tol=tol, random_state=random_state, copy_x=copy_x, algorithm=algorithm,
                 device=device, working_memory=working_memory)
    est.fit(X, sample_weight=sample_weight)
    if return_n_iter:
        return est.cluster_centers_, est.labels_, est.inertia_, est.n_iter_
    return est.cluster_centers_, est.labels_, est.inertia_
