"""KMeans and MiniBatchKMeans on Dask arrays, against the in-memory fit of X.compute(), on a real
distributed.LocalCluster of 2 worker processes and on the threaded scheduler."""

import numpy as np
import pytest

import fastseq
from naive import blobs

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 single-threaded worker processes, shared by the module."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(params=["distributed", "threads"])
def scheduler(request):
    """Run the test body on the 2-process cluster, then on the threaded scheduler."""
    if request.param == "distributed":
        c = request.getfixturevalue("client")
        with c.as_current():
            yield "distributed"
    else:
        with dask.config.set(scheduler="threads"):
            yield "threads"


def one_per_cluster(X, truth, k):
    return X[[np.flatnonzero(truth == j)[0] for j in range(k)]]


def to_dask(X, chunks):
    return da.from_array(X, chunks=(chunks, X.shape[1]))


UNEQUAL = (3, 400, 157, 640, 300)  # 1500 rows; the first chunk holds fewer rows than k


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_init_same_centers_as_in_memory(rng, scheduler, dtype):
    X, truth, _ = blobs(rng, 1500, 7, 5, spread=3.0, dtype=dtype)
    w = rng.uniform(0.5, 2.0, len(X))
    init = X[rng.choice(len(X), 5, replace=False)]
    Xd, wd = to_dask(X, UNEQUAL), da.from_array(w, chunks=(UNEQUAL,))
    ours = fastseq.KMeans(5, init=init, max_iter=40).fit(Xd, sample_weight=wd)
    ref = fastseq.KMeans(5, init=init, max_iter=40).fit(X, sample_weight=w)
    assert ours.cluster_centers_.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=tol, atol=tol)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=tol)
    assert ours.n_iter_ == ref.n_iter_
    assert isinstance(ours.labels_, da.Array) and ours.labels_.chunks[0] == UNEQUAL
    np.testing.assert_array_equal(ours.labels_.compute(), ref.labels_)


def test_bit_identical_across_runs_and_worker_counts(rng, client):
    X, _, _ = blobs(rng, 3000, 6, 8, spread=2.0)
    Xd = to_dask(X, 250)
    fits = []
    with client.as_current():
        for _ in range(2):
            fits.append(fastseq.KMeans(8, init="k-means||", random_state=3, tol=0).fit(Xd))
    # one worker (in this process, where the kernels are already loaded: faster to start)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0", silence_logs=40) as one:
        with distributed.Client(one) as c1:
            fits.append(fastseq.KMeans(8, init="k-means||", random_state=3, tol=0).fit(Xd))
    with dask.config.set(scheduler="threads"):
        fits.append(fastseq.KMeans(8, init="k-means||", random_state=3, tol=0).fit(Xd))
    for f in fits[1:]:
        np.testing.assert_array_equal(f.cluster_centers_, fits[0].cluster_centers_)
        assert f.inertia_ == fits[0].inertia_ and f.n_iter_ == fits[0].n_iter_


def test_empty_cluster_takes_the_farthest_point_as_in_memory(rng, scheduler):
    X, truth, _ = blobs(rng, 900, 4, 3, spread=6.0)
    init = np.vstack([one_per_cluster(X, truth, 3), X.max(axis=0) + 1e3])  # the last never wins
    Xd = to_dask(X, (100, 500, 300))
    ours = fastseq.KMeans(4, init=init, max_iter=30).fit(Xd)
    ref = fastseq.KMeans(4, init=init, max_iter=30).fit(X)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10,
                               atol=1e-10)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_.compute(), ref.labels_)


@pytest.mark.parametrize("init", ["k-means++", "k-means||", "random"])
def test_inits_reach_a_good_clustering_reproducibly(rng, init):
    X, truth, _ = blobs(rng, 2000, 5, 6, min_gap=8.0)
    Xd = to_dask(X, 300)
    best = fastseq.KMeans(6, init=one_per_cluster(X, truth, 6)).fit(X).inertia_
    with dask.config.set(scheduler="threads"):
        a = fastseq.KMeans(6, init=init, n_init=3, random_state=5).fit(Xd)
        b = fastseq.KMeans(6, init=init, n_init=3, random_state=5).fit(Xd)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    if init != "random":  # random seeding may settle in a poor local minimum, in memory too
        assert a.inertia_ <= 1.5 * best


def test_predict_transform_score_on_dask(rng):
    X, _, _ = blobs(rng, 1200, 5, 4, dtype=np.float32)
    km = fastseq.KMeans(4, random_state=0).fit(X)
    Y = X[::-1].copy()
    Yd = to_dask(Y, (500, 700))
    with dask.config.set(scheduler="threads"):
        labels, D = km.predict(Yd).persist(), km.transform(Yd).persist()
    assert isinstance(labels, da.Array) and isinstance(D, da.Array)
    np.testing.assert_array_equal(labels.compute(), km.predict(Y))
    np.testing.assert_allclose(D.compute(), km.transform(Y), rtol=1e-5, atol=1e-5)
    w = rng.uniform(0, 2, len(Y))
    with dask.config.set(scheduler="threads"):
        score = km.score(Yd, sample_weight=da.from_array(w, chunks=600))
    assert score == pytest.approx(km.score(Y, sample_weight=w), rel=1e-10)


def test_bad_input_is_a_clear_error(rng):
    X, _, _ = blobs(rng, 600, 4, 3)
    with pytest.raises(ValueError, match="chunked along rows only"):
        fastseq.KMeans(3).fit(da.from_array(X, chunks=(200, 2)))
    bad = X.copy()
    bad[450, 1] = np.nan
    with dask.config.set(scheduler="threads"):
        with pytest.raises(ValueError, match=r"NaN value\(s\) in chunk 2 \(rows 400 to 599\)"):
            fastseq.KMeans(3).fit(to_dask(bad, 200))
        with pytest.raises(ValueError, match="sample_weight: expected shape"):
            fastseq.KMeans(3).fit(to_dask(X, 200), sample_weight=np.ones(5))
        w = np.ones(600)
        w[10] = -1
        with pytest.raises(ValueError, match="negative value.*chunk 0"):
            fastseq.KMeans(3).fit(to_dask(X, 200), sample_weight=w)
        with pytest.raises(ValueError, match="n_clusters: expected at most"):
            fastseq.KMeans(700).fit(to_dask(X, 200))
        km = fastseq.KMeans(3, random_state=0).fit(to_dask(X, 200))
        with pytest.raises(ValueError, match="chunk 2 of the dask array"):
            km.predict(to_dask(bad, 200)).compute()
        with pytest.raises(ValueError, match="expecting 4 features"):
            km.predict(to_dask(X[:, :3], 200))
    with pytest.raises(ValueError, match="init: expected one of"):
        fastseq.KMeans(3, init="k-means||").fit(X)  # k-means|| is for dask arrays only


def test_verbose_and_fit_predict(rng, capsys):
    X, _, _ = blobs(rng, 500, 3, 3)
    with dask.config.set(scheduler="threads"):
        labels = fastseq.KMeans(3, random_state=0, verbose=1).fit_predict(to_dask(X, 100))
    out = capsys.readouterr().out
    assert "Initialization complete" in out and "Iteration 0, inertia" in out
    assert isinstance(labels, da.Array) and labels.shape == (500,)


def test_minibatch_on_dask(rng, scheduler):
    X, truth, _ = blobs(rng, 4000, 4, 5, min_gap=8.0)
    w = rng.uniform(0.5, 2.0, len(X))
    Xd, wd = to_dask(X, 700), da.from_array(w, chunks=700)
    a = fastseq.MiniBatchKMeans(5, batch_size=256, random_state=2).fit(Xd, sample_weight=wd)
    b = fastseq.MiniBatchKMeans(5, batch_size=256, random_state=2).fit(Xd, sample_weight=wd)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert isinstance(a.labels_, da.Array)
    ref = fastseq.KMeans(5, init=one_per_cluster(X, truth, 5)).fit(X, sample_weight=w)
    assert a.inertia_ <= 1.2 * ref.inertia_
    assert a.inertia_ == pytest.approx(-a.score(X, sample_weight=w), rel=1e-9)


def test_minibatch_partial_fit_streams_the_chunks(rng):
    X, _, _ = blobs(rng, 1000, 3, 4)
    chunks = (300, 300, 400)
    with dask.config.set(scheduler="threads"):
        ours = fastseq.MiniBatchKMeans(4, random_state=1).partial_fit(to_dask(X, chunks))
    ref = fastseq.MiniBatchKMeans(4, random_state=1)
    for start, stop in ((0, 300), (300, 600), (600, 1000)):
        ref.partial_fit(X[start:stop])
    np.testing.assert_array_equal(ours.cluster_centers_, ref.cluster_centers_)
    assert ours.n_steps_ == 3
