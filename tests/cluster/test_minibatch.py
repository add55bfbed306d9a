"""MiniBatchKMeans on the CPU against scikit-learn, streaming with partial_fit, bad input."""

import numpy as np
import pytest

import fastseq
from naive import blobs

sklearn = pytest.importorskip("sklearn")
from sklearn.cluster import MiniBatchKMeans as SKMiniBatch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402


def test_digits_inertia_within_two_percent_of_sklearn(rng):
    # mini-batch inertia varies by a few percent from seed to seed (for both libraries): the mean
    # of 6 seeds keeps this to a real difference rather than a draw (3 seeds failed about 1 in 30)
    X = load_digits().data
    seeds = rng.integers(1 << 30, size=6)
    ours = [fastseq.MiniBatchKMeans(10, batch_size=256, random_state=int(s)).fit(X).inertia_
            for s in seeds]
    ref = [SKMiniBatch(10, batch_size=256, random_state=int(s)).fit(X).inertia_ for s in seeds]
    assert np.mean(ours) <= np.mean(ref) * 1.02


def test_fit_recovers_blobs_and_api(rng):
    X, truth, _ = blobs(rng, 6000, 5, 6, dtype=np.float32, spread=10.0)
    mb = fastseq.MiniBatchKMeans(6, batch_size=500, random_state=int(rng.integers(99)), n_init=3)
    labels = mb.fit_predict(X)
    assert adjusted_rand_score(truth, labels) > 0.95
    assert mb.cluster_centers_.dtype == np.float32 and mb.labels_.dtype == np.int64
    np.testing.assert_array_equal(mb.predict(X), mb.labels_)
    assert mb.score(X) == pytest.approx(-mb.inertia_, rel=1e-6)
    assert mb.transform(X[:7]).shape == (7, 6)
    assert mb.n_steps_ >= 1 and mb.n_iter_ >= 1 and mb.n_features_in_ == 5


def test_runs_every_step_without_early_stopping(rng):
    X, _, _ = blobs(rng, 2000, 3, 4, spread=10.0)
    mb = fastseq.MiniBatchKMeans(4, batch_size=100, max_iter=3, max_no_improvement=None,
                                 random_state=0).fit(X)
    assert mb.n_steps_ == 3 * 2000 // 100 and mb.n_iter_ == 3
    early = fastseq.MiniBatchKMeans(4, batch_size=100, max_iter=50, random_state=0).fit(X)
    assert early.n_steps_ < 50 * 2000 // 100


def test_same_seed_same_result(rng):
    X, _, _ = blobs(rng, 3000, 4, 5, spread=10.0)
    seed = int(rng.integers(1 << 30))
    a = fastseq.MiniBatchKMeans(5, batch_size=200, random_state=seed).fit(X)
    b = fastseq.MiniBatchKMeans(5, batch_size=200, random_state=seed).fit(X)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_) and a.inertia_ == b.inertia_


def test_batches_follow_sample_weight(rng):
    X, truth, _ = blobs(rng, 4000, 2, 4, spread=10.0)
    w = np.where(truth == 3, 0.0, 1.0)  # cluster 3 has no weight: no center should sit there
    mb = fastseq.MiniBatchKMeans(3, batch_size=256, random_state=1, n_init=3).fit(X, sample_weight=w)
    used = X[truth != 3]
    near_used = ((mb.cluster_centers_[:, None] - used[None]) ** 2).sum(-1).min(1)
    assert (near_used < 4.0).all()
    # inertia is weighted: the zero-weight cluster does not count
    assert mb.inertia_ == pytest.approx(-mb.score(X, sample_weight=w), rel=1e-9)


def test_low_count_center_is_reassigned(rng):
    X, _, _ = blobs(rng, 3000, 2, 3, spread=10.0)
    init = np.vstack([X[:3], [[1e4, 1e4]]])  # a center nobody is near
    mb = fastseq.MiniBatchKMeans(4, init=init, batch_size=100, random_state=0,
                                 max_no_improvement=None, max_iter=2).fit(X)
    assert np.abs(mb.cluster_centers_).max() < 1e3
    assert len(np.unique(mb.labels_)) == 4


def test_partial_fit_streams_chunks_and_memmap(rng, tmp_path):
    X, truth, _ = blobs(rng, 20_000, 4, 5, dtype=np.float32, spread=10.0)
    mb = fastseq.MiniBatchKMeans(5, random_state=2)
    for start in range(0, len(X), 1000):
        mb.partial_fit(X[start:start + 1000])
    assert mb.n_steps_ == 20
    assert adjusted_rand_score(truth, mb.predict(X)) > 0.9
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    streamed = fastseq.MiniBatchKMeans(5, random_state=2, compute_labels=False)
    streamed.partial_fit(mm[s:s + 1000] for s in range(0, len(mm), 1000))
    np.testing.assert_allclose(streamed.cluster_centers_, mb.cluster_centers_, rtol=1e-6,
                               atol=1e-4)
    with pytest.raises(ValueError, match="X has 3 features"):
        mb.partial_fit(X[:100, :3])


def test_compute_labels_false_keeps_a_smoothed_inertia(rng):
    X, _, _ = blobs(rng, 3000, 3, 3, spread=10.0)
    mb = fastseq.MiniBatchKMeans(3, batch_size=300, compute_labels=False, random_state=0).fit(X)
    assert not hasattr(mb, "labels_") and np.isfinite(mb.inertia_) and mb.inertia_ > 0


def test_torch_input(rng):
    torch = pytest.importorskip("torch")
    X, _, _ = blobs(rng, 2000, 3, 3, dtype=np.float32, spread=10.0)
    mb = fastseq.MiniBatchKMeans(3, batch_size=256, random_state=0).fit(torch.from_numpy(X))
    out = mb.predict(torch.from_numpy(X))
    assert isinstance(out, torch.Tensor)


BAD = [
    (dict(batch_size=0), "batch_size"),
    (dict(reassignment_ratio=-1.0), "reassignment_ratio"),
    (dict(n_clusters=0), "n_clusters"),
    (dict(n_clusters=200), "n_clusters"),
    (dict(max_iter=0), "max_iter"),
    (dict(init="nope"), "init"),
    (dict(max_no_improvement=-2), "max_no_improvement"),
    (dict(init_size=0), "init_size"),
]


@pytest.mark.parametrize("params,words", BAD)
def test_bad_parameters(params, words):
    X = np.random.default_rng(0).standard_normal((100, 3))
    with pytest.raises(ValueError, match=words):
        fastseq.MiniBatchKMeans(**{"n_clusters": 3, **params}).fit(X)


def test_bad_data():
    with pytest.raises(ValueError, match="NaN"):
        fastseq.MiniBatchKMeans(2).fit(np.array([[0.0, np.nan], [1, 1], [2, 2]]))
    with pytest.raises(ValueError, match="sample_weight"):
        fastseq.MiniBatchKMeans(2).fit(np.ones((5, 2)), sample_weight=np.ones(4))


@pytest.mark.cudasim
def test_minibatch_step_on_cuda_engine_matches_cpu(rng):
    from fastseq.cluster._engine import CPUEngine, CUDAEngine
    from fastseq.cluster._minibatch import minibatch_update, reassign_low_counts
    X = rng.standard_normal((16, 3)) + 50
    shift = X.mean(0)
    out = []
    for engine in (CPUEngine(X, np.ones(16), shift), CUDAEngine(X, np.ones(16), shift, xp=np)):
        Cs64 = X[:3] - shift
        counts = np.array([5.0, 0.0, 2.0])
        _, _, sums, batch_counts = engine.lloyd_pass(Cs64)
        minibatch_update(Cs64, counts, sums, batch_counts, np)
        moved = reassign_low_counts(Cs64, counts, engine, 0.5, np.arange(16), np)
        out.append((Cs64, counts, moved))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_array_equal(out[0][1], out[1][1])
