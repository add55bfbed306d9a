"""select_k: the three rules on well-separated blobs, the table's columns recomputed independently
(inertia, silhouette, the BIC formula), the elbow rule on known curves, estimators, bad input."""

import dataclasses

import numpy as np
import pytest

import fastseq
from naive import blobs, spherical_bic
from fastseq.cluster import _select_k


@pytest.mark.parametrize("d", [2, 10])
def test_every_method_finds_the_true_k(rng, d):
    X, _, _ = blobs(rng, 1200, d, 5, min_gap=12.0)
    res = fastseq.select_k(X, range(2, 10), method="silhouette", random_state=0, n_init=2)
    assert res.best_k == 5, str(res)
    assert res.model.n_clusters == 5 and res.model.cluster_centers_.shape == (5, d)
    assert isinstance(res.model, fastseq.KMeans)  # estimator="auto" at n <= 100,000
    # the other two rules on the same table (the same fits: see test_method_picks_the_rule)
    t = res.table
    assert t["k"][_select_k.elbow_index(t["k"], t["inertia"])] == 5, str(res)
    assert t["k"][np.argmax(t["bic"])] == 5, str(res)


def test_method_picks_the_rule(rng):
    X, _, _ = blobs(rng, 500, 3, 3, min_gap=12.0)
    tables = {}
    for method in ("silhouette", "elbow", "bic"):
        res = fastseq.select_k(X, [1, 2, 3, 4, 5], method=method, random_state=7)
        assert res.method == method and res.best_k == 3, str(res)
        assert res.model.n_clusters == 3
        tables[method] = res.table
    for name in ("inertia", "silhouette", "bic"):  # a fixed seed gives the same fits
        np.testing.assert_array_equal(tables["elbow"][name], tables["bic"][name])


def test_table_columns(rng):
    X, _, _ = blobs(rng, 600, 4, 3, min_gap=12.0)
    res = fastseq.select_k(X, [4, 1, 3, 2], method="bic", random_state=0)
    t = res.table
    np.testing.assert_array_equal(t["k"], [1, 2, 3, 4])  # sorted
    assert set(t) == {"k", "inertia", "silhouette", "bic"}
    assert np.isnan(t["silhouette"][0]) and np.isfinite(t["silhouette"][1:]).all()
    assert np.all(np.diff(t["inertia"]) < 0)
    m = res.model
    i = int(np.flatnonzero(t["k"] == res.best_k)[0])
    assert t["inertia"][i] == pytest.approx(m.inertia_)
    assert t["silhouette"][i] == pytest.approx(fastseq.silhouette_score(X, m.labels_), abs=1e-12)
    assert t["bic"][i] == pytest.approx(spherical_bic(X, m.labels_, m.cluster_centers_), rel=1e-9)
    # k = 1: one center at the mean, BIC still defined
    assert np.isfinite(t["bic"][0])
    assert res.best_k == 3


def test_bic_formula_with_weights(rng):
    X, labels, _ = blobs(rng, 300, 3, 4, min_gap=12.0)
    centers = np.stack([X[labels == c].mean(0) for c in range(4)])
    w = rng.integers(1, 4, 300).astype(np.float64)
    inertia = (w * ((X - centers[labels]) ** 2).sum(1)).sum()
    ours = _select_k.spherical_bic(inertia, labels, 4, 3, w)
    assert ours == pytest.approx(spherical_bic(X, labels, centers, w), rel=1e-10)
    # integer weights count like repeated rows
    rep = np.repeat(np.arange(300), w.astype(int))
    assert ours == pytest.approx(_select_k.spherical_bic(inertia, labels[rep], 4, 3), rel=1e-12)
    assert np.isnan(_select_k.spherical_bic(1.0, np.array([0, 1]), 2, 3))  # N <= k
    assert _select_k.spherical_bic(0.0, np.array([0, 0, 1]), 2, 3) == np.inf


def test_sample_weight_reaches_the_fit(rng):
    X, _, _ = blobs(rng, 400, 3, 3, min_gap=12.0)
    w = rng.uniform(0.5, 2.0, 400)
    res = fastseq.select_k(X, [2, 3, 4], method="bic", random_state=1, sample_weight=w)
    m = res.model
    d2 = ((X - m.cluster_centers_[m.labels_]) ** 2).sum(1)
    i = int(np.flatnonzero(res.table["k"] == res.best_k)[0])
    assert res.table["inertia"][i] == pytest.approx((w * d2).sum(), rel=1e-5)
    assert res.table["bic"][i] == pytest.approx(
        spherical_bic(X, m.labels_, m.cluster_centers_, w), rel=1e-5)


@pytest.mark.parametrize("inertia,expected", [
    ([100.0, 50.0, 10.0, 9.0, 8.5, 8.0], 3),      # sharp elbow at k = 3
    ([1000.0, 100.0, 10.0, 9.0, 8.5, 8.0], 3),    # a linear scale would point at k = 2
    ([8.0, 8.0, 8.0, 8.0, 8.0, 8.0], 1),          # flat: ties go to the smallest k
    ([50.0, 20.0, 5.0, 0.0, 0.0, 0.0], 4),        # zero inertia is floored, not -inf
])
def test_elbow_rule(inertia, expected):
    ks = np.arange(1, 7)
    assert ks[_select_k.elbow_index(ks, np.array(inertia))] == expected


def test_silhouette_sampling_in_select_k(rng):
    X, _, _ = blobs(rng, 900, 3, 4, min_gap=12.0)
    exact = fastseq.select_k(X, [2, 3, 4, 5], random_state=3, silhouette_sample_size=None)
    sampled = fastseq.select_k(X, [2, 3, 4, 5], random_state=3, silhouette_sample_size=400)
    assert exact.best_k == sampled.best_k == 4
    i = 2
    m = exact.model
    assert exact.table["silhouette"][i] == pytest.approx(
        fastseq.silhouette_score(X, m.labels_), abs=1e-12)
    assert sampled.table["silhouette"][i] == pytest.approx(
        fastseq.silhouette_score(X, m.labels_, sample_size=400, random_state=3), abs=1e-12)
    assert sampled.table["silhouette"][i] != exact.table["silhouette"][i]


@pytest.mark.parametrize("how", ["minibatch", "auto"])
def test_minibatch_estimator(rng, monkeypatch, how):
    if "MiniBatchKMeans" not in fastseq._API:
        pytest.skip("fastseq.MiniBatchKMeans is not part of this build yet")
    X, _, _ = blobs(rng, 3000, 4, 4, min_gap=12.0)
    if how == "auto":  # above the threshold, "auto" switches to mini-batch
        monkeypatch.setattr(_select_k, "AUTO_MINIBATCH_ABOVE", 2999)
    res = fastseq.select_k(X, range(2, 7), method="bic", estimator=how, random_state=0,
                           batch_size=512)
    assert isinstance(res.model, fastseq.MiniBatchKMeans)
    assert res.model.batch_size == 512 and res.best_k == 4


def test_estimator_instance_is_cloned(rng):
    cluster = pytest.importorskip("sklearn.cluster")
    X, _, _ = blobs(rng, 500, 3, 3, min_gap=12.0)
    proto = cluster.KMeans(n_clusters=7, n_init=2, random_state=0)
    res = fastseq.select_k(X, range(2, 6), estimator=proto, method="silhouette", max_iter=50)
    assert res.best_k == 3
    assert isinstance(res.model, cluster.KMeans) and res.model.n_clusters == 3
    assert res.model.max_iter == 50 and res.model is not proto
    assert proto.n_clusters == 7 and proto.max_iter == 300 and not hasattr(proto, "labels_")


def test_result_object(rng):
    X, _, _ = blobs(rng, 300, 2, 3, min_gap=12.0)
    res = fastseq.select_k(X, [1, 2, 3, 4], method="elbow", random_state=0)
    assert isinstance(res, fastseq.SelectKResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.best_k = 2
    text = str(res)
    assert text == res.as_table()
    lines = text.splitlines()
    assert lines[0].split() == ["k", "inertia", "silhouette", "bic"]
    starred = [line for line in lines if line.startswith("*")]
    assert len(starred) == 1 and starred[0].split()[1] == str(res.best_k)
    assert lines[-1] == f"best k = {res.best_k} by elbow"
    assert "nan" in lines[1]  # the silhouette of k = 1
    assert repr(res).startswith(f"SelectKResult(best_k={res.best_k}, method='elbow'")


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(k_values=[]), ValueError, r"k_values: expected at least one value of k, got none"),
    (dict(k_values=[2, 2.5]), TypeError, r"k_values: expected integers, got 2.5 \(float\)"),
    (dict(k_values=["3"]), TypeError, r"k_values: expected integers, got '3'"),
    (dict(k_values=5), TypeError, r"k_values: expected an iterable of integers .*single integer"),
    (dict(k_values=[0, 2]), ValueError, r"k_values: expected integers in \[1, n_samples = 40\], "
                                        r"got \[0\]"),
    (dict(k_values=[2, 41]), ValueError, r"k_values: .*got \[41\]"),
    (dict(k_values=[2, 3, 3]), ValueError, r"k_values: expected distinct values, got duplicates"),
    (dict(k_values=[2, 3], method="elbow"), ValueError,
     r"k_values: the elbow method expected at least 3 values of k, got 2"),
    (dict(k_values=[1]), ValueError, r"k_values: the silhouette method expected at least one k "
                                     r">= 2, got \[1\]"),
    (dict(method="gap"), ValueError, r"method: expected one of \('silhouette', 'elbow', 'bic'\), "
                                     r"got 'gap'"),
    (dict(estimator="dbscan"), ValueError, r"estimator: expected one of \('auto', 'kmeans', "
                                           r"'minibatch'\) or an estimator instance, got 'dbscan'"),
    (dict(estimator=object()), TypeError, r"estimator: expected .* got object \(no get_params"),
    (dict(silhouette_sample_size=1), ValueError,
     r"silhouette_sample_size: expected None or an integer >= 2, got 1"),
    (dict(sample_weight=-np.ones(40)), ValueError, r"sample_weight: expected non-negative"),
    (dict(bogus_param=1), TypeError, r"estimator_params: KMeans does not accept them"),
])
def test_bad_input(rng, kwargs, exc, match):
    X = rng.standard_normal((40, 2))
    kwargs = {"k_values": [2, 3, 4], **kwargs}
    with pytest.raises(exc, match=match):
        fastseq.select_k(X, **kwargs)


def test_bad_X(rng):
    X = rng.standard_normal((40, 2))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"X: expected finite values"):
        fastseq.select_k(X, [2, 3])
    with pytest.raises(ValueError, match=r"X: expected a 2-D array"):
        fastseq.select_k(X[:, 0], [2, 3])
    cluster = pytest.importorskip("sklearn.cluster")
    with pytest.raises(TypeError, match=r"estimator: .* got the class KMeans"):
        fastseq.select_k(X[1:], [2, 3], estimator=cluster.KMeans)
