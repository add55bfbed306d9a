"""Regression tests for bugs a scikit-learn user met when changing only the import."""

import warnings

import numpy as np
import pytest

import fastseq

pytest.importorskip("sklearn")


def test_partial_fit_after_fit_goes_on(rng):
    X = rng.standard_normal((200, 3))
    km = fastseq.MiniBatchKMeans(3, random_state=0, n_init=1).fit(X)
    before = km.cluster_centers_.copy()
    km.partial_fit(X[:3])
    assert km.cluster_centers_.shape == (3, 3)
    assert km.n_steps_ >= 1
    # the step moved at most the centers the three rows went to
    moved = np.flatnonzero(np.any(km.cluster_centers_ != before, axis=1))
    assert len(moved) <= 3


@pytest.mark.parametrize("cls", [fastseq.KMeans, fastseq.MiniBatchKMeans])
@pytest.mark.parametrize("verbose", [True, False, 1, np.bool_(True)])
def test_verbose_takes_bool_or_int(cls, verbose, rng, capsys):
    X = rng.standard_normal((60, 2))
    cls(3, verbose=verbose, random_state=0, max_iter=2).fit(X)
    out = capsys.readouterr().out
    assert bool(out) == bool(verbose)


@pytest.mark.parametrize("cls", [fastseq.KMeans, fastseq.MiniBatchKMeans])
def test_verbose_rejects_negative_and_strings(cls, rng):
    X = rng.standard_normal((20, 2))
    for bad in (-1, "yes"):
        with pytest.raises((ValueError, TypeError), match="verbose"):
            cls(2, verbose=bad).fit(X)


def test_fewer_distinct_rows_than_clusters_converges_at_once(rng):
    from sklearn.cluster import KMeans as SKKMeans
    X = rng.integers(0, 2, (100, 2)).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fastseq.KMeans(6, random_state=0).fit(X)
        ref = SKKMeans(6, random_state=0).fit(X)
    assert ours.n_iter_ <= 2 and ref.n_iter_ <= 2
    assert ours.inertia_ == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)


def test_duplicate_rows_rarely_hit_max_iter():
    hit = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(40):
            r = np.random.RandomState(seed)
            X = r.randint(0, 3, (40 + seed, 2)).astype(np.float64)
            hit += fastseq.KMeans(8, random_state=seed, max_iter=50).fit(X).n_iter_ == 50
    assert hit == 0


def test_empty_cluster_still_takes_the_farthest_point():
    # one center far from every point: it empties and must take the farthest point (distance > 0)
    X = np.array([[0.0], [0.1], [10.0], [10.1], [20.0]])
    init = np.array([[0.05], [10.05], [1000.0]])
    km = fastseq.KMeans(3, init=init, n_init=1).fit(X)
    assert sorted(np.bincount(km.labels_, minlength=3)) == [1, 2, 2]
