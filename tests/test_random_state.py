"""The one random_state policy: None, an int, a RandomState or a Generator, everywhere."""

import numpy as np
import pytest

import fastseq
from naive import blobs
from fastseq._validation import check_random_state


def test_check_random_state_kinds():
    assert check_random_state(None) is np.random.mtrand._rand
    a = check_random_state(5).randint(0, 1000, 4)
    assert np.array_equal(a, np.random.RandomState(5).randint(0, 1000, 4))
    rs = np.random.RandomState(2)
    assert check_random_state(rs) is rs
    # a Generator is drawn from through its own bit generator: its stream advances
    gen = np.random.default_rng(3)
    before = gen.bit_generator.state["state"]["state"]
    check_random_state(gen).randint(0, 10, 3)
    assert gen.bit_generator.state["state"]["state"] != before
    for bad in ("seed", 1.5, True, [1, 2]):
        with pytest.raises(ValueError, match="random_state: expected None, an int, a numpy "
                                             "RandomState or Generator, got"):
            check_random_state(bad)


@pytest.mark.parametrize("make", [
    lambda rs: fastseq.KMeans(3, n_init=2, random_state=rs, device="cpu"),
    lambda rs: fastseq.MiniBatchKMeans(3, batch_size=64, max_iter=3, random_state=rs,
                                       device="cpu"),
])
def test_estimators_accept_a_generator(rng, make):
    X, _, _ = blobs(rng, 300, 3, 3, spread=15.0)
    a = make(np.random.default_rng(7)).fit(X)
    b = make(np.random.default_rng(7)).fit(X)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.cluster_centers_.shape == (3, 3)


def test_seeding_silhouette_select_k_and_layers_accept_a_generator(rng):
    X, _, _ = blobs(rng, 300, 3, 3, spread=15.0)
    c1, i1 = fastseq.kmeans_plusplus(X, 3, random_state=np.random.default_rng(1), device="cpu")
    c2, i2 = fastseq.kmeans_plusplus(X, 3, random_state=np.random.default_rng(1), device="cpu")
    assert np.array_equal(i1, i2) and np.array_equal(c1, X[i1])
    labels = fastseq.KMeans(3, random_state=0, device="cpu").fit_predict(X)
    s1 = fastseq.silhouette_score(X, labels, sample_size=100, random_state=np.random.default_rng(4))
    s2 = fastseq.silhouette_score(X, labels, sample_size=100, random_state=np.random.default_rng(4))
    assert s1 == s2
    # three blobs 30 apart with unit noise, so k = 3 is the answer whatever the draw
    Xs = 30 * np.eye(3)[rng.integers(0, 3, 300)] + rng.standard_normal((300, 3))
    res = fastseq.select_k(Xs, [2, 3, 4], random_state=np.random.default_rng(0), device="cpu")
    again = fastseq.select_k(Xs, [2, 3, 4], random_state=np.random.default_rng(0), device="cpu")
    assert res.best_k == again.best_k == 3
    w1 = fastseq.GRU(4, 5, random_state=np.random.default_rng(9)).state_dict()
    w2 = fastseq.GRU(4, 5, random_state=np.random.default_rng(9)).state_dict()
    assert all(np.array_equal(w1[name], w2[name]) for name in w1)
