"""The NumPy references themselves, against scikit-learn where it has the same quantity, so a
kernel test that agrees with them agrees with something independent."""

import numpy as np
import pytest

from naive import blobs, lloyd_step, nearest, silhouette, spherical_bic

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_blobs_shapes_and_gap(rng):
    X, labels, centers = blobs(rng, 200, 3, 4, min_gap=12.0, dtype=np.float32)
    assert X.shape == (200, 3) and X.dtype == np.float32 and labels.shape == (200,)
    gaps = np.sqrt(((centers[:, None] - centers[None]) ** 2).sum(-1))[np.triu_indices(4, 1)]
    assert gaps.min() >= 12.0
    assert np.abs(X - centers[labels]).max() < 8  # unit noise around the right center


def test_nearest_and_lloyd_step_match_sklearn(rng):
    from sklearn.cluster import KMeans
    X, _, centers = blobs(rng, 500, 4, 3)
    C = centers + rng.standard_normal(centers.shape)
    labels, d2 = nearest(X, C)
    np.testing.assert_array_equal(labels, sklearn_metrics.pairwise_distances_argmin(X, C))
    np.testing.assert_allclose(d2, ((X - C[labels]) ** 2).sum(1))
    _, new, inertia = lloyd_step(X, C)
    km = KMeans(3, init=C, n_init=1, max_iter=1, tol=0, algorithm="lloyd").fit(X)
    np.testing.assert_allclose(new, km.cluster_centers_, rtol=1e-10, atol=1e-10)
    assert inertia == pytest.approx(float(d2.sum()))


def test_silhouette_matches_sklearn(rng):
    X, labels, _ = blobs(rng, 300, 2, 4, spread=3.0)
    labels[0] = 17  # a singleton
    np.testing.assert_allclose(silhouette(X, labels),
                               sklearn_metrics.silhouette_samples(X, labels), atol=1e-12)


def test_bic_of_one_cluster_is_the_gaussian_loglik(rng):
    from scipy.stats import norm
    X = rng.standard_normal((400, 2)) * 2 + 5
    mu = X.mean(0, keepdims=True)
    sigma = np.sqrt(((X - mu) ** 2).sum() / (2 * (400 - 1)))
    loglik = norm.logpdf(X, mu, sigma).sum()
    p = 0 + 2 + 1
    got = spherical_bic(X, np.zeros(400, dtype=np.int64), mu)
    assert got == pytest.approx(loglik - p / 2 * np.log(400), rel=1e-12)
