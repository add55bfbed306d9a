"""KMeans and kmeans_plusplus on the CPU against scikit-learn and float64 NumPy."""

import warnings

import numba
import numpy as np
import pytest

import fastseq
from naive import blobs
from naive import lloyd as naive_lloyd

sklearn = pytest.importorskip("sklearn")
from sklearn.cluster import KMeans as SKKMeans  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402


@pytest.mark.parametrize("d", [2, 16])
def test_one_iteration_matches_float64_numpy(rng, d):
    X, truth, _ = blobs(rng, n=1500, d=d, k=5)
    w = rng.uniform(0.5, 2.0, len(X))
    # one seed per true cluster: no cluster empties, which the plain reference cannot handle
    init = X[[np.flatnonzero(truth == j)[0] for j in range(5)]]
    for n_iter in (1, 3):
        km = fastseq.KMeans(5, init=init, max_iter=n_iter, tol=0).fit(X, sample_weight=w)
        labels, C, inertia = naive_lloyd(X, init, w, n_iter)
        np.testing.assert_allclose(km.cluster_centers_, C, rtol=1e-10, atol=1e-10)
        np.testing.assert_array_equal(km.labels_, labels)
        assert km.inertia_ == pytest.approx(inertia, rel=1e-10)


@pytest.mark.parametrize("d,k", [(3, 4), (9, 7), (64, 20)])
def test_same_init_same_fixed_point_as_sklearn(rng, d, k):
    X, _, _ = blobs(rng, n=2500, d=d, k=k, spread=3.0)
    init = X[rng.choice(len(X), k, replace=False)]
    ours = fastseq.KMeans(k, init=init, n_init=1).fit(X)
    ref = SKKMeans(k, init=init, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-9)


def test_digits_quality_within_half_percent_of_sklearn():
    X = load_digits().data
    seed = int(np.random.default_rng().integers(1 << 30))
    ours = fastseq.KMeans(10, n_init=4, random_state=seed).fit(X)
    ref = SKKMeans(10, n_init=4, random_state=seed).fit(X)
    assert ours.inertia_ <= ref.inertia_ * 1.005
    X32 = X.astype(np.float32)
    ours32 = fastseq.KMeans(10, n_init=4, random_state=seed).fit(X32)
    assert ours32.cluster_centers_.dtype == np.float32
    assert ours32.inertia_ <= ref.inertia_ * 1.005


def test_kmeans_plusplus_follows_sklearn_draws(rng):
    from sklearn.cluster import kmeans_plusplus as sk_plusplus
    X, _, _ = blobs(rng, n=2000, d=6, k=8)
    seed = int(rng.integers(1 << 30))
    centers, idx = fastseq.kmeans_plusplus(X, 8, random_state=seed)
    ref_centers, ref_idx = sk_plusplus(X, 8, random_state=seed)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(centers, X[idx])
    assert centers.dtype == X.dtype and idx.dtype == np.int64


def test_kmeans_plusplus_respects_weights(rng):
    X = rng.standard_normal((500, 3))
    w = np.zeros(500)
    heavy = rng.choice(500, 20, replace=False)
    w[heavy] = 1.0
    _, idx = fastseq.kmeans_plusplus(X, 10, sample_weight=w, random_state=int(rng.integers(99)))
    assert set(idx) <= set(heavy)


def test_integer_weights_equal_repeated_rows(rng):
    X, _, _ = blobs(rng, n=800, d=4, k=5)
    reps = rng.integers(0, 4, len(X))
    init = X[np.flatnonzero(reps)[:5]]
    a = fastseq.KMeans(5, init=init).fit(X, sample_weight=reps.astype(float))
    b = fastseq.KMeans(5, init=init).fit(np.repeat(X, reps, axis=0))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10, atol=1e-10)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-10)
    # k-means++ too: weight 2 on a row is that row twice (same draws given the same potentials)
    w2 = np.where(np.arange(len(X)) % 2 == 0, 2.0, 1.0)
    assert fastseq.KMeans(5, random_state=3).fit(X, sample_weight=w2).inertia_ > 0


def test_empty_cluster_is_relocated_to_farthest_point(rng):
    X, _, _ = blobs(rng, n=600, d=3, k=3)
    init = np.vstack([X[:3], X.max(0) + 1000])  # the last center attracts nobody
    km = fastseq.KMeans(4, init=init, max_iter=1, tol=0).fit(X)
    assert np.isfinite(km.cluster_centers_).all()
    # the first three centers each keep at least their own row; the fourth takes the row
    # farthest from its center in the first assignment
    D = ((X[:, None] - init[None, :3]) ** 2).sum(-1)
    far = D.min(1).argmax()
    np.testing.assert_allclose(km.cluster_centers_[3], X[far], rtol=1e-12)
    assert km.labels_[far] == 3


def test_fewer_distinct_points_than_clusters_warns(rng):
    X = np.repeat(rng.standard_normal((3, 2)), 20, axis=0)
    with pytest.warns(Warning, match="distinct clusters"):
        km = fastseq.KMeans(5, random_state=0).fit(X)
    assert np.isfinite(km.cluster_centers_).all() and km.inertia_ == pytest.approx(0, abs=1e-12)


def test_bit_identical_across_runs_and_thread_counts(rng):
    X, _, _ = blobs(rng, n=20_000, d=12, k=10, dtype=np.float32)
    seed = int(rng.integers(1 << 30))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = fastseq.KMeans(10, random_state=seed, n_init=2).fit(X)
        numba.set_num_threads(before)
        b = fastseq.KMeans(10, random_state=seed, n_init=2).fit(X)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    assert np.array_equal(a.labels_, b.labels_) and a.inertia_ == b.inertia_


def test_objective_never_increases(rng):
    X, _, _ = blobs(rng, n=3000, d=6, k=12, spread=1.0)
    history = []
    km = fastseq.KMeans(12, init="random", n_init=1, random_state=int(rng.integers(99)), tol=0)
    km._progress_callback = lambda it, inertia: history.append(inertia)
    km.fit(X)
    assert len(history) >= 2
    assert all(b <= a * (1 + 1e-12) for a, b in zip(history, history[1:]))
    assert km.inertia_ <= history[-1] * (1 + 1e-12)


def test_far_from_origin_float32_clusters_like_centred_data(rng):
    X, truth, _ = blobs(rng, n=4000, d=8, k=5, dtype=np.float32)
    X_far = X + np.float32(1e5)
    X_centred = X_far - X_far.mean(axis=0, dtype=np.float64).astype(np.float32)
    # one seed per true cluster: a well-posed fit (a bad init drifts chaotically, where any
    # rounding difference, offset or not, can end in another local optimum)
    init = np.array([np.flatnonzero(truth == j)[0] for j in range(5)])
    a = fastseq.KMeans(5, init=X_far[init]).fit(X_far)
    b = fastseq.KMeans(5, init=X_centred[init]).fit(X_centred)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_ - X_far.mean(0, dtype=np.float64),
                               b.cluster_centers_, atol=0.05)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-3)


def test_labels_equal_predict_and_api(rng):
    X, truth, _ = blobs(rng, n=1200, d=4, k=4)
    km = fastseq.KMeans(4, random_state=0)
    labels = km.fit_predict(X)
    np.testing.assert_array_equal(labels, km.predict(X))
    np.testing.assert_array_equal(km.labels_, labels)
    T = km.transform(X[:50])
    ref = np.sqrt(((X[:50, None] - km.cluster_centers_[None]) ** 2).sum(-1))
    np.testing.assert_allclose(T, ref, rtol=1e-6, atol=1e-6)
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-9)
    np.testing.assert_allclose(fastseq.KMeans(4, random_state=0).fit_transform(X), km.transform(X),
                               rtol=1e-6, atol=1e-6)
    assert km.n_features_in_ == 4 and km.n_iter_ >= 1 and km.device_ == "cpu"
    # adjusted agreement with the truth on well-separated blobs
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(truth, labels) > 0.95


def test_random_and_callable_init_and_n_init(rng):
    X, _, _ = blobs(rng, n=900, d=3, k=4)
    r1 = fastseq.KMeans(4, init="random", n_init=1, random_state=5).fit(X)
    r10 = fastseq.KMeans(4, init="random", random_state=5).fit(X)  # "auto" -> 10 runs
    assert r10.inertia_ <= r1.inertia_ * (1 + 1e-12)
    calls = []

    def my_init(data, k, random_state):
        calls.append(k)
        return data[:k]

    km = fastseq.KMeans(4, init=my_init).fit(X)  # "auto": 10 runs for a callable, as scikit-learn
    assert calls == [4] * 10 and km.cluster_centers_.shape == (4, 3)
    calls.clear()
    fastseq.KMeans(4, init=my_init, n_init=1).fit(X)
    assert calls == [4]
    with pytest.warns(RuntimeWarning, match="only one init"):
        fastseq.KMeans(4, init=X[:4], n_init=3).fit(X)


def test_torch_and_memmap_inputs(rng, tmp_path):
    torch = pytest.importorskip("torch")
    X, _, _ = blobs(rng, n=5000, d=5, k=3, dtype=np.float32)
    km = fastseq.KMeans(3, random_state=1).fit(torch.from_numpy(X))
    assert isinstance(km.cluster_centers_, np.ndarray)
    pred = km.predict(torch.from_numpy(X))
    assert isinstance(pred, torch.Tensor) and pred.dtype == torch.int64
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    km_mm = fastseq.KMeans(3, random_state=1, working_memory=0.05).fit(mm)
    np.testing.assert_array_equal(km_mm.labels_, km.labels_)
    np.testing.assert_array_equal(km_mm.cluster_centers_, km.cluster_centers_)


def test_verbose_prints_progress(rng, capsys):
    X, _, _ = blobs(rng, n=500, d=2, k=3)
    fastseq.KMeans(3, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Iteration 0, inertia" in out and "center shift" in out


def test_sklearn_tools_work(rng):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, _, _ = blobs(rng, n=600, d=3, k=3)
    km = fastseq.KMeans(3, random_state=0, device="cpu")
    assert clone(km).get_params() == km.get_params()
    assert km.set_params(n_clusters=4).n_clusters == 4
    pipe = make_pipeline(StandardScaler(), fastseq.KMeans(3, random_state=0)).fit(X)
    assert pipe.predict(X).shape == (600,)
    search = GridSearchCV(fastseq.KMeans(random_state=0), {"n_clusters": [2, 3, 4]}, cv=3).fit(X)
    assert search.best_params_["n_clusters"] == 4  # score = -inertia favours more clusters


def test_sklearn_estimator_checks_pass_as_well_as_sklearn():
    from sklearn.utils.estimator_checks import check_estimator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = check_estimator(fastseq.KMeans(3, n_init=2, max_iter=5, device="cpu"), on_fail=None)
        ref = check_estimator(SKKMeans(3, n_init=2, max_iter=5), on_fail=None)
    failed = {r["check_name"] for r in ours if r["status"] == "failed"}
    ref_failed = {r["check_name"] for r in ref if r["status"] == "failed"}
    assert failed <= ref_failed, failed - ref_failed


BAD = [
    (dict(X=np.array([[1.0, np.nan], [0, 0]])), ValueError, "NaN"),
    (dict(X=np.array([[1.0, np.inf], [0, 0]])), ValueError, "inf"),
    (dict(X=np.ones(4)), ValueError, "2-D"),
    (dict(X=np.ones((0, 3))), ValueError, "non-empty"),
    (dict(n_clusters=0), ValueError, "n_clusters"),
    (dict(n_clusters=11), ValueError, "n_clusters"),
    (dict(init=np.ones((3, 2))), ValueError, "init"),
    (dict(init="kmeans"), ValueError, "init"),
    (dict(sample_weight=-np.ones(10)), ValueError, "sample_weight"),
    (dict(sample_weight=np.ones(9)), ValueError, "sample_weight"),
    (dict(n_init=0), ValueError, "n_init"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(device="gpu"), ValueError, "device"),
    (dict(random_state="x"), ValueError, "random_state"),
]


@pytest.mark.parametrize("spec,exc,words", BAD)
def test_bad_input_names_the_argument(spec, exc, words):
    spec = dict(spec)
    X = spec.pop("X", np.arange(30, dtype=float).reshape(10, 3))
    w = spec.pop("sample_weight", None)
    with pytest.raises(exc, match=words):
        fastseq.KMeans(**{"n_clusters": 2, **spec}).fit(X, sample_weight=w)


def test_predict_before_fit_and_feature_mismatch():
    from sklearn.exceptions import NotFittedError
    X = np.arange(30, dtype=float).reshape(10, 3)
    with pytest.raises(NotFittedError):
        fastseq.KMeans(2).predict(X)
    km = fastseq.KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features"):
        km.predict(X[:, :2])
    with pytest.raises(ValueError, match="n_clusters"):
        fastseq.kmeans_plusplus(X, 11)


@pytest.mark.parametrize("dtype,offset,spread", [(np.float32, 0.0, 1.0), (np.float32, 1e4, 3.0),
                                                 (np.float64, 0.0, 0.5)])
def test_bounds_skip_only_unchanged_rows(rng, dtype, offset, spread):
    """Lloyd with Hamerly bounds gives bit-for-bit the plain iterations' labels and centers."""
    from fastseq.cluster._engine import CPUEngine
    from fastseq.cluster._lloyd import lloyd
    X, _, _ = blobs(rng, n=6000, d=12, k=40, spread=spread, dtype=dtype)
    X = X + dtype(offset)
    w = rng.uniform(0.5, 2.0, len(X))
    shift = X.mean(axis=0, dtype=np.float64).astype(dtype)
    engine = CPUEngine(X, w, shift)
    init = X[rng.choice(len(X), 40, replace=False)].astype(np.float64) - shift
    plain = lloyd(engine, init, max_iter=40, tol=0, prune=False)
    pruned = lloyd(engine, init, max_iter=40, tol=0, prune=True)
    assert pruned.n_iter == plain.n_iter
    np.testing.assert_array_equal(pruned.labels, plain.labels)
    np.testing.assert_array_equal(pruned.Cs64, plain.Cs64)
    assert pruned.inertia == plain.inertia
    bounds = engine.start_pruning(40)
    Cs64 = pruned.Cs64
    engine.lloyd_pass_pruned(Cs64, bounds)
    engine.lloyd_pass_pruned(Cs64, bounds)  # centers did not move: only near-ties are redone
    assert bounds.reassigned <= len(X) // 100
