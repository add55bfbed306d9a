"""Sparse (scipy CSR/CSC) input gives the dense path's results."""

import numpy as np
import pytest

import fastseq
from naive import blobs

sp = pytest.importorskip("scipy.sparse")


def _sparse_blobs(rng, n=400, d=12, k=4, dtype=np.float64):
    X, truth, _ = blobs(rng, n=n, d=d, k=k, dtype=dtype)
    X = X - X.min(axis=0)
    X[rng.random(X.shape) < 0.6] = 0  # mostly zeros
    return X.astype(dtype), truth


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_sparse_matches_dense(rng, fmt, dtype):
    X, _ = _sparse_blobs(rng, dtype=dtype)
    S = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    init = X[rng.choice(len(X), 4, replace=False)]
    dense = fastseq.KMeans(4, init=init, n_init=1).fit(X)
    sparse = fastseq.KMeans(4, init=init, n_init=1).fit(S)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert sparse.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    np.testing.assert_allclose(sparse.cluster_centers_, dense.cluster_centers_, rtol=tol, atol=tol)
    assert sparse.inertia_ == pytest.approx(dense.inertia_, rel=tol)
    np.testing.assert_array_equal(sparse.predict(S), dense.predict(X))
    np.testing.assert_allclose(sparse.transform(S), dense.transform(X), rtol=tol, atol=tol)
    # a model fitted dense predicts sparse rows, and the other way round
    np.testing.assert_array_equal(dense.predict(S), sparse.predict(X))


def test_kmeans_sparse_against_float64_reference(rng):
    X, _ = _sparse_blobs(rng, n=150, d=6, k=3)
    S = sp.csr_matrix(X)
    C = X[:3] + 0.25
    labels, sqdist = fastseq.nearest_centers(S, C)
    D = ((X[:, None, :] - C[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, D.argmin(1))
    np.testing.assert_allclose(sqdist, D.min(1), rtol=1e-12, atol=1e-12)
    # a row equal to its center is at distance exactly 0
    _, zero = fastseq.nearest_centers(S[:3], X[:3])
    assert np.all(zero == 0)


def test_kmeans_plusplus_and_random_init_sparse_match_dense(rng):
    X, _ = _sparse_blobs(rng)
    S = sp.csr_matrix(X)
    c_dense, i_dense = fastseq.kmeans_plusplus(X, 5, random_state=3)
    c_sparse, i_sparse = fastseq.kmeans_plusplus(S, 5, random_state=3)
    np.testing.assert_array_equal(i_sparse, i_dense)
    assert isinstance(c_sparse, np.ndarray)
    np.testing.assert_array_equal(c_sparse, X[i_sparse])
    a = fastseq.KMeans(4, init="random", random_state=0).fit(X)
    b = fastseq.KMeans(4, init="random", random_state=0).fit(S)
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-9)


def test_minibatch_sparse_matches_dense(rng):
    X, _ = _sparse_blobs(rng, n=600)
    S = sp.csr_matrix(X)
    w = rng.uniform(0.5, 2, len(X))
    a = fastseq.MiniBatchKMeans(4, batch_size=64, random_state=0, n_init=1).fit(X, sample_weight=w)
    b = fastseq.MiniBatchKMeans(4, batch_size=64, random_state=0, n_init=1).fit(S, sample_weight=w)
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    pa = fastseq.MiniBatchKMeans(4, random_state=0).partial_fit(X[:100]).partial_fit(X[100:200])
    pb = fastseq.MiniBatchKMeans(4, random_state=0).partial_fit(S[:100]).partial_fit(S[100:200])
    np.testing.assert_allclose(pb.cluster_centers_, pa.cluster_centers_, rtol=1e-9, atol=1e-9)


def test_sparse_input_is_not_modified_and_duplicates_are_summed(rng):
    X, _ = _sparse_blobs(rng, n=50, d=4, k=2)
    coo = sp.coo_matrix(X)
    # the same matrix with each entry split in two (non-canonical CSR)
    dup = sp.csr_matrix((np.r_[coo.data / 2, coo.data / 2], (np.r_[coo.row, coo.row],
                         np.r_[coo.col, coo.col])), shape=X.shape)
    before = dup.data.copy()
    init = X[:2]
    a = fastseq.KMeans(2, init=init, n_init=1).fit(X)
    b = fastseq.KMeans(2, init=init, n_init=1).fit(dup)
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(dup.data, before)


def test_sparse_errors_name_the_argument(rng):
    X, _ = _sparse_blobs(rng, n=30, d=3, k=2)
    S = sp.csr_matrix(X)
    bad = S.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="X.*finite"):
        fastseq.KMeans(2).fit(bad)
    with pytest.raises(ValueError, match="device"):
        fastseq.KMeans(2, device="cuda").fit(S)
    for call in (lambda: fastseq.pairwise_sqdist(S), lambda: fastseq.silhouette_score(S, [0, 1] * 15),
                 lambda: fastseq.select_k(S, [2, 3])):
        with pytest.raises(TypeError, match="X: expected a dense array, got a scipy sparse"):
            call()
