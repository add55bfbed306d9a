"""The scikit-learn surface: parameters, functions and attributes scikit-learn users rely on."""

import os
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import fastseq

pytest.importorskip("sklearn")


def test_algorithm_lloyd_and_elkan_give_the_same_fit(rng):
    X = rng.standard_normal((300, 4))
    a = fastseq.KMeans(3, random_state=0, algorithm="lloyd").fit(X)
    b = fastseq.KMeans(3, random_state=0).set_params(algorithm="elkan").fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    with pytest.raises(ValueError, match="algorithm"):
        fastseq.KMeans(3, algorithm="auto").fit(X)
    with pytest.warns(RuntimeWarning, match="single cluster"):
        fastseq.KMeans(1, algorithm="elkan").fit(X)


def test_k_means_function_is_the_estimator(rng):
    X = rng.standard_normal((200, 3))
    km = fastseq.KMeans(4, random_state=2).fit(X)
    centers, labels, inertia = fastseq.k_means(X, 4, random_state=2)
    np.testing.assert_array_equal(centers, km.cluster_centers_)
    np.testing.assert_array_equal(labels, km.labels_)
    assert inertia == km.inertia_
    *_, n_iter = fastseq.k_means(X, 4, random_state=2, return_n_iter=True)
    assert n_iter == km.n_iter_


def test_feature_names_and_pandas_output(rng):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(rng.standard_normal((80, 3)), columns=["a", "b", "c"])
    km = fastseq.KMeans(2, random_state=0).fit(X)
    np.testing.assert_array_equal(km.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(km.get_feature_names_out(), ["kmeans0", "kmeans1"])
    with pytest.raises(ValueError, match="feature names should match"):
        km.predict(X[["b", "a", "c"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        km.predict(X.to_numpy())
    out = fastseq.MiniBatchKMeans(2, random_state=0).set_output(transform="pandas").fit(X)
    frame = out.transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["minibatchkmeans0", "minibatchkmeans1"]
    # refitting on a plain array forgets the names
    assert not hasattr(km.fit(X.to_numpy()), "feature_names_in_")


def test_kmeans_plusplus_x_squared_norms(rng):
    X = rng.standard_normal((50, 3))
    a = fastseq.kmeans_plusplus(X, 3, random_state=0)[1]
    b = fastseq.kmeans_plusplus(X, 3, random_state=0, x_squared_norms=(X ** 2).sum(1))[1]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="x_squared_norms"):
        fastseq.kmeans_plusplus(X, 3, x_squared_norms=np.ones(49))


@pytest.mark.parametrize("n_clusters,batch,init_size,expected",
                         [(10, 5, None, 15), (10, 1, None, 30), (10, 5, 500, 100), (3, 20, 2, 9)])
def test_init_size_resolved_as_sklearn(rng, n_clusters, batch, init_size, expected):
    from sklearn.cluster import MiniBatchKMeans as SK
    X = rng.standard_normal((100, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fastseq.MiniBatchKMeans(n_clusters, batch_size=batch, init_size=init_size,
                                       n_init=1, max_iter=1).fit(X)
        theirs = SK(n_clusters, batch_size=batch, init_size=init_size, n_init=1,
                    max_iter=1).fit(X)
    assert ours._init_size == theirs._init_size == expected


@pytest.mark.parametrize("init", ["k-means++", "random", "callable", "array"])
@pytest.mark.parametrize("cls", ["KMeans", "MiniBatchKMeans"])
def test_n_init_auto_resolved_as_sklearn(rng, cls, init):
    import sklearn.cluster
    X = rng.standard_normal((60, 2))
    spec = {"callable": lambda X, k, random_state: X[:k], "array": X[:3]}.get(init, init)
    ours = getattr(fastseq, cls)(3, init=spec, random_state=0).fit(X)
    theirs = getattr(sklearn.cluster, cls)(3, init=spec, random_state=0).fit(X)
    assert ours._n_init == theirs._n_init


def test_random_init_with_too_few_positive_weights(rng):
    X = rng.standard_normal((20, 2))
    w = np.zeros(20)
    w[:2] = 1
    with pytest.raises(ValueError, match="init: 'random'.*only 2 positive"):
        fastseq.KMeans(3, init="random").fit(X, sample_weight=w)


def test_torch_sample_weight_with_requires_grad(rng):
    torch = pytest.importorskip("torch")
    X = rng.standard_normal((40, 2))
    w = torch.rand(40, dtype=torch.float64, requires_grad=True)
    a = fastseq.KMeans(2, random_state=0).fit(X, sample_weight=w)
    b = fastseq.KMeans(2, random_state=0).fit(X, sample_weight=w.detach().numpy())
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_center_gaps_memory_grows_with_k_not_k_squared(rng):
    k = 2048
    X = rng.standard_normal((4000, 16))
    init = X[:k].copy()
    fastseq.KMeans(k, init=init, n_init=1, max_iter=2).fit(X)  # compile outside the measurement
    tracemalloc.start()
    try:
        fastseq.KMeans(k, init=init, n_init=1, max_iter=3, tol=0, working_memory=2).fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # one k x k float64 temporary alone is 32 MiB; before the fix the fit peaked at 66 MiB
    assert peak < 16 * 2**20


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_can_use_fastseq_after_the_parent(rng):
    import subprocess
    code = (
        "import os, numpy as np, fastseq\n"
        "X = np.random.RandomState(0).standard_normal((500, 3))\n"
        "fastseq.KMeans(3, random_state=0, n_init=1).fit(X)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    km = fastseq.KMeans(3, random_state=0, n_init=1).fit(X)\n"
        "    os._exit(0 if km.cluster_centers_.shape == (3, 3) else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_THREADING_LAYER")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(fastseq.__file__))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_concurrent_calls_from_threads(rng):
    import threading
    X = rng.standard_normal((3000, 4))
    errors = []

    def fit():
        try:
            for _ in range(3):
                fastseq.KMeans(4, random_state=0, n_init=1).fit(X)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fit) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
