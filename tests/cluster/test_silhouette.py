"""silhouette_samples / silhouette_score: against scikit-learn (exact and sampled), conventions
(singletons, duplicates, any label values), determinism, bad input; the CUDA kernels in the
simulator, compiled for sm_90, and on a GPU."""

import numba
import numpy as np
import pytest

import fastseq
from naive import blobs
from fastseq import _defaults
from fastseq.cluster import _chunking, _silhouette

metrics = pytest.importorskip("sklearn.metrics")


def labelled(rng, n, d, k, dtype=np.float64, offset=0.0):
    """Blobs with a singleton cluster (label 99) and label values that are not 0..k-1."""
    X, labels, _ = blobs(rng, n, d, k, spread=3.0, offset=offset, dtype=dtype)
    labels = labels * 7 - 3
    labels[rng.integers(n)] = 99
    return X, labels


@pytest.mark.parametrize("d", [1, 3, 5, 24])  # direct (d <= 4) and GEMM strategies
def test_samples_match_sklearn_float64(rng, d):
    X, labels = labelled(rng, 700, d, 5, offset=50.0)
    s = fastseq.silhouette_samples(X, labels)
    assert s.dtype == np.float64 and s.shape == (700,)
    # scikit-learn's uncentered GEMM identity loses ~1e-8 on a very close pair 50 from the origin
    np.testing.assert_allclose(s, metrics.silhouette_samples(X, labels), rtol=0, atol=1e-6)
    assert s[labels == 99] == 0.0  # a sample alone in its cluster
    assert fastseq.silhouette_score(X, labels) == pytest.approx(
        metrics.silhouette_score(X, labels), abs=1e-10)


@pytest.mark.parametrize("d", [2, 40])
def test_score_matches_sklearn_float32(rng, d):
    # scikit-learn rounds float32 distances to float32; fastseq works in float64 throughout.
    X, labels = labelled(rng, 900, d, 6, dtype=np.float32, offset=10.0)
    np.testing.assert_allclose(fastseq.silhouette_samples(X, labels),
                               metrics.silhouette_samples(X, labels), rtol=0, atol=2e-6)
    assert fastseq.silhouette_score(X, labels) == pytest.approx(
        metrics.silhouette_score(X, labels), abs=1e-6)


@pytest.mark.parametrize("d", [2, 12])
def test_small_chunks_and_ragged_blocks(rng, d):
    # 16-row chunks (working_memory) over 1,100 rows: ragged last row chunk and column block.
    X, labels = labelled(rng, 1100, d, 4)
    assert _chunking.silhouette_cpu_rows(4, 0.01) == _defaults.SILHOUETTE_MIN_ROWS
    s = fastseq.silhouette_samples(X, labels, working_memory=0.01)
    np.testing.assert_allclose(s, metrics.silhouette_samples(X, labels), rtol=0, atol=1e-9)


@pytest.mark.parametrize("d", [3, 9])
@pytest.mark.parametrize("symmetric", [True, False])
def test_both_cpu_strategies(rng, monkeypatch, d, symmetric):
    # the symmetric kernel (each pair once) while its buffers fit, else the row-chunked one
    X, labels = labelled(rng, 1000, d, 6)
    _, codes = np.unique(labels, return_inverse=True)
    plan = _chunking.symmetric_plan(np.sort(codes), 7, _defaults.SILHOUETTE_CHUNK_ROWS)
    assert plan is not None
    if not symmetric:
        monkeypatch.setattr(_chunking, "SYMMETRIC_MAX_MIB", 0)
        assert _chunking.symmetric_plan(np.sort(codes), 7, _defaults.SILHOUETTE_CHUNK_ROWS) is None
    np.testing.assert_allclose(fastseq.silhouette_samples(X, labels),
                               metrics.silhouette_samples(X, labels), rtol=0, atol=1e-9)


def test_never_holds_the_distance_matrix(rng):
    tracemalloc = pytest.importorskip("tracemalloc")
    X, labels = labelled(rng, 6000, 3, 4)  # the 6000 x 6000 float64 matrix would be 288 MB
    fastseq.silhouette_score(X[:300], labels[:300])  # compile first
    tracemalloc.start()
    try:
        fastseq.silhouette_score(X, labels)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak


def test_many_clusters(rng):
    X = rng.standard_normal((300, 6))
    labels = rng.integers(0, 120, 300)  # many tiny clusters and singletons
    np.testing.assert_allclose(fastseq.silhouette_samples(X, labels),
                               metrics.silhouette_samples(X, labels), rtol=0, atol=1e-9)


def test_sampled_matches_sklearn(rng):
    X, labels = labelled(rng, 2000, 8, 5)
    seed = int(rng.integers(2**31))
    ours = fastseq.silhouette_score(X, labels, sample_size=500, random_state=seed)
    ref = metrics.silhouette_score(X, labels, sample_size=500, random_state=seed)
    assert ours == pytest.approx(ref, abs=1e-10)
    ours = fastseq.silhouette_score(X, labels, sample_size=300,
                                    random_state=np.random.RandomState(seed))
    ref = metrics.silhouette_score(X, labels, sample_size=300,
                                   random_state=np.random.RandomState(seed))
    assert ours == pytest.approx(ref, abs=1e-10)
    # a Generator is accepted too, and sample_size = n is the exact score
    assert np.isfinite(fastseq.silhouette_score(X, labels, sample_size=100, random_state=rng))
    assert fastseq.silhouette_score(X, labels, sample_size=2000, random_state=0) == \
        pytest.approx(fastseq.silhouette_score(X, labels), abs=1e-12)


def test_label_values_and_duplicates(rng):
    X = rng.standard_normal((60, 3))
    names = np.array(["b", "a", "c"])[rng.integers(0, 3, 60)]
    assert fastseq.silhouette_score(X, names) == pytest.approx(
        metrics.silhouette_score(X, names), abs=1e-12)
    # duplicated points: a = 0 inside each cluster, so s = 1; a = b = 0 gives 0
    P = np.repeat(rng.standard_normal((3, 4)) * 5, 5, axis=0)
    lab = np.repeat([0, 1, 2], 5)
    np.testing.assert_array_equal(fastseq.silhouette_samples(P, lab), np.ones(15))
    np.testing.assert_array_equal(fastseq.silhouette_samples(np.zeros((6, 2)), [0, 0, 0, 1, 1, 1]),
                                  np.zeros(6))


@pytest.mark.parametrize("budget", [None, 0.05])  # symmetric kernel; row-chunked kernel
def test_input_not_modified_and_independent_of_threads(rng, budget):
    X, labels = labelled(rng, 1500, 20, 5, dtype=np.float32)
    X0, labels0 = X.copy(), labels.copy()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fastseq.silhouette_samples(X, labels, working_memory=budget)
        numba.set_num_threads(before)
        many = fastseq.silhouette_samples(X, labels, working_memory=budget)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(labels, labels0)


def test_torch_in_torch_out(rng):
    torch = pytest.importorskip("torch")
    X, labels = labelled(rng, 200, 5, 3)
    s = fastseq.silhouette_samples(torch.from_numpy(X), torch.from_numpy(labels))
    assert isinstance(s, torch.Tensor) and s.dtype == torch.float64
    np.testing.assert_allclose(s.numpy(), metrics.silhouette_samples(X, labels), atol=1e-9)
    assert isinstance(fastseq.silhouette_score(torch.from_numpy(X), labels), float)


@pytest.mark.parametrize("labels,match", [
    (np.zeros(10), r"labels: expected between 2 and n_samples - 1 = 9 distinct values .*got 1"),
    (np.arange(10), r"labels: expected between 2 and n_samples - 1 = 9 distinct values .*got 10"),
    (np.zeros(9), r"labels: expected shape \(10,\) to match X's 10 rows, got shape \(9,\)"),
    (np.zeros((10, 1)), r"labels: expected a 1-D array of shape \(10,\), got a 2-D"),
    (np.r_[np.zeros(9), np.nan], r"labels: expected finite values, got 1"),
])
def test_bad_labels(rng, labels, match):
    X = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match=match):
        fastseq.silhouette_score(X, labels)
    with pytest.raises(ValueError, match=match):
        fastseq.silhouette_samples(X, labels)


def test_bad_X_and_parameters(rng):
    X = rng.standard_normal((10, 3))
    labels = np.r_[np.zeros(5), np.ones(5)]
    with pytest.raises(ValueError, match=r"X: expected a 2-D array, got a 1-D"):
        fastseq.silhouette_score(X[:, 0], labels)
    for bad, what in [(np.nan, "NaN"), (np.inf, "Inf")]:
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError, match=rf"X: expected finite values.*got 1 {what}"):
            fastseq.silhouette_samples(Xb, labels)
    with pytest.raises(ValueError, match=r"X: expected a non-empty array"):
        fastseq.silhouette_score(np.empty((0, 3)), [])
    for size in (0, 1, 11):
        with pytest.raises(ValueError, match=rf"sample_size: expected None or an integer in "
                                             rf"\[2, n_samples = 10\], got {size}"):
            fastseq.silhouette_score(X, labels, sample_size=size)
    for size in (5.0, True, "5"):
        with pytest.raises(TypeError, match=r"sample_size: expected None or an integer, got"):
            fastseq.silhouette_score(X, labels, sample_size=size)
    with pytest.raises(ValueError, match=r"random_state: expected None, an int, .* got str"):
        fastseq.silhouette_score(X, labels, sample_size=5, random_state="seed")
    with pytest.raises(ValueError, match=r"labels: .* \(sample_size=2 of the 10 rows of X gives "
                                         r"2 rows\), got"):
        fastseq.silhouette_score(X, labels, sample_size=2, random_state=0)
    with pytest.raises(ValueError, match=r"device: expected one of"):
        fastseq.silhouette_score(X, labels, device="gpu")
    with pytest.raises(ValueError, match=r"working_memory: expected a number > 0"):
        fastseq.silhouette_score(X, labels, working_memory=0)
    with pytest.raises(TypeError, match=r"labels: expected an array-like"):
        fastseq.silhouette_score(X, None)


def sorted_case(rng, n, d, k):
    X = rng.standard_normal((n, d)) + 20
    labels = rng.integers(0, k, n)
    labels[0] = k  # a singleton
    _, codes = np.unique(labels, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    lab = codes[order].astype(np.int64)
    counts = np.bincount(lab).astype(np.int64)
    gemm = d > _defaults.SILHOUETTE_DIRECT_MAX_FEATURES
    Xs = X[order] - (X.mean(axis=0) if gemm else 0)
    return X, labels, order, np.ascontiguousarray(Xs), lab, counts, gemm


@pytest.mark.cudasim
@pytest.mark.parametrize("d", [2, 7])
def test_cuda_kernels_in_simulator(rng, d):
    from fastseq.cluster._silhouette_cuda import silhouette_sums_cuda
    X, labels, order, Xs, lab, counts, gemm = sorted_case(rng, 11, d, 2)
    intra, inter = silhouette_sums_cuda(Xs, lab, counts, gemm, rows_per_chunk=6, xp=np, lanes=4)
    s = np.empty(11)
    s[order] = _silhouette.silhouette_from_sums(intra, inter, counts[lab], np)
    np.testing.assert_allclose(s, metrics.silhouette_samples(X, labels), rtol=0, atol=1e-9)


@pytest.mark.cudasim
def test_cuda_and_cpu_kernels_agree_in_simulator(rng):
    from fastseq.cluster import _silhouette_cpu
    from fastseq.cluster._silhouette_cuda import silhouette_sums_cuda
    X, labels, order, Xs, lab, counts, gemm = sorted_case(rng, 9, 6, 3)
    intra, inter = silhouette_sums_cuda(Xs, lab, counts, gemm, rows_per_chunk=9, xp=np, lanes=2)
    c_intra, c_inter = np.empty(9), np.empty(9)
    _silhouette_cpu.silhouette_sums(Xs, np.einsum("ij,ij->i", Xs, Xs), lab, counts, gemm, 4, 4, 2,
                                    c_intra, c_inter)
    np.testing.assert_allclose(intra, c_intra, rtol=1e-12)
    np.testing.assert_allclose(inter, c_inter, rtol=1e-12)


@pytest.mark.compile
def test_cuda_kernels_compile_for_sm90():
    cuda = pytest.importorskip("numba.cuda")
    from numba import float64, int64
    from fastseq.cluster._silhouette_cuda import LANES, kernels
    seg_gemm, seg_direct, reduce = kernels(LANES)
    sigs = [
        (seg_gemm, (float64[:, ::1], float64[::1], int64, int64[::1], float64[:, ::1])),
        (seg_direct, (float64[:, ::1], int64, int64[::1], float64[:, ::1])),
        (reduce, (float64[:, ::1], int64, int64[::1], int64[::1], float64[::1], float64[::1])),
    ]
    try:
        ptxs = [cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))[0] for kernel, sig in sigs]
    except Exception as exc:  # no NVVM/NVRTC on this machine
        if "NVVM" in str(exc) or "nvrtc" in str(exc).lower() or "libNVVM" in str(exc):
            pytest.skip(f"no CUDA compiler available: {exc}")
        raise
    assert all(".target sm_90" in ptx for ptx in ptxs)


@pytest.mark.gpu
@pytest.mark.parametrize("d", [2, 64])
def test_gpu_matches_cpu(rng, d):
    cupy = pytest.importorskip("cupy")
    X, labels = labelled(rng, 5000, d, 7, dtype=np.float32, offset=100.0)
    s = fastseq.silhouette_samples(cupy.asarray(X), labels, working_memory=16)
    assert isinstance(s, cupy.ndarray)
    np.testing.assert_allclose(s.get(), fastseq.silhouette_samples(X, labels, device="cpu"),
                               rtol=0, atol=1e-9)
    assert fastseq.silhouette_score(X, labels, device="cuda", sample_size=1000, random_state=1) \
        == pytest.approx(fastseq.silhouette_score(X, labels, device="cpu", sample_size=1000,
                                                  random_state=1), abs=1e-12)
