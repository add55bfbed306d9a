"""Regression tests for bugs a scikit-learn user hit: partial_fit after fit, verbose=True, and
data with fewer distinct points than clusters."""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans

import fastseq


def test_partial_fit_goes_on_after_fit(rng):
    X = rng.standard_normal((200, 3))
    mb = fastseq.MiniBatchKMeans(3, random_state=0, n_init=1).fit(X)
    before = mb.cluster_centers_.copy()
    steps = mb.n_steps_
    mb.partial_fit(X[:3])
    assert mb.n_steps_ == steps + 1
    assert mb.cluster_centers_.shape == before.shape
    assert np.isfinite(mb.cluster_centers_).all()


@pytest.mark.parametrize("verbose", [True, False, 1, np.True_])
@pytest.mark.parametrize("cls", [fastseq.KMeans, fastseq.MiniBatchKMeans])
def test_verbose_takes_a_bool_or_an_int(rng, capsys, cls, verbose):
    X = rng.standard_normal((60, 2))
    cls(3, verbose=verbose, max_iter=2, n_init=1, random_state=0).fit(X)
    assert bool(capsys.readouterr().out) == bool(verbose)


def test_verbose_still_refuses_negatives_and_strings(rng):
    X = rng.standard_normal((30, 2))
    with pytest.raises(ValueError, match="verbose: expected an integer >= 0, got -1"):
        fastseq.KMeans(2, verbose=-1).fit(X)
    with pytest.raises(TypeError, match="verbose: expected an integer, got str"):
        fastseq.KMeans(2, verbose="yes").fit(X)


def test_fewer_distinct_points_than_clusters_converges_at_once(rng):
    """Four distinct points, six clusters (integer data, as a user passes it): before the fix
    most such fits ran all 300 iterations."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(5):
            X = rng.integers(0, 2, (100, 2))
            km = fastseq.KMeans(6, random_state=int(rng.integers(3))).fit(X)
            assert km.n_iter_ <= 3
            assert km.inertia_ <= 1e-20


def test_duplicate_rows_do_not_run_to_max_iter(rng):
    """Random small data sets full of duplicate rows: fastseq stops before max_iter at least as
    often as scikit-learn (it hit max_iter in 68 of 200 such fits before the fix)."""
    ours = theirs = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            n = int(rng.integers(20, 120))
            X = rng.integers(0, int(rng.integers(2, 4)), (n, int(rng.integers(1, 4))))
            k = int(rng.integers(2, 9))
            seed = int(rng.integers(1000))
            ours += fastseq.KMeans(k, random_state=seed, max_iter=50).fit(X).n_iter_ >= 50
            theirs += SkKMeans(k, random_state=seed, max_iter=50).fit(X).n_iter_ >= 50
    assert ours <= theirs + 1
