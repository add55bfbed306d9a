"""nearest_centers / pairwise_sqdist on the CPU against float64 NumPy."""

import numpy as np
import pytest

import fastseq
import naive
from fastseq import _defaults
from fastseq.cluster import _chunking


def assert_nearest_ok(X, C, labels, sqdist, rtol):
    """Labels are exact except at near-ties; the distance is the true distance to the label."""
    D = naive.sqdist(X, C)
    best = D.min(axis=1)
    picked = D[np.arange(len(X)), labels]
    assert labels.dtype == np.int64 and sqdist.dtype == np.float64
    np.testing.assert_allclose(sqdist, picked, rtol=1e-12, atol=1e-9)
    # a wrong label is acceptable only when it is within rounding of the best distance
    assert np.all(picked - best <= rtol * (best + D.mean(axis=1) * 1e-3)), "wrong nearest center"
    return D


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d,k", [(1, 1), (1, 7), (2, 8), (5, 3), (8, 33), (9, 4), (64, 256), (130, 17)])
def test_nearest_centers_matches_numpy(rng, dtype, d, k):
    n = int(rng.integers(1, 3000))
    X = rng.standard_normal((n, d)).astype(dtype)
    C = rng.standard_normal((k, d)).astype(dtype)
    labels, sqdist = fastseq.nearest_centers(X, C)
    assert labels.shape == (n,) and sqdist.shape == (n,)
    assert_nearest_ok(X, C, labels, sqdist, rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("d", [3, 64])
def test_nearest_centers_far_from_origin_float32(rng, d):
    """Offset 1e4: the naive identity in float32 would lose every digit of these distances."""
    X = rng.standard_normal((2000, d)).astype(np.float32)
    C = X[rng.choice(2000, 20, replace=False)] + rng.standard_normal((20, d)).astype(np.float32)
    offset = np.float32(1e4)
    Xo, Co = X + offset, C + offset  # rounded to float32: the reference sees the same values
    labels, sqdist = fastseq.nearest_centers(Xo, Co)
    D = naive.sqdist(Xo, Co)
    np.testing.assert_allclose(sqdist, D[np.arange(2000), labels], rtol=1e-12)
    # float32 products of centred data: a wrong label only at a near-tie (relative 1e-4)
    best = D.min(axis=1)
    assert np.all(D[np.arange(2000), labels] - best <= 1e-4 * best)
    assert (labels == D.argmin(axis=1)).mean() > 0.99


def test_ties_resolve_to_lowest_index(rng):
    X = rng.standard_normal((500, 16))
    C = rng.standard_normal((6, 16))
    C = np.vstack([C, C])  # every center duplicated: 0..5 must win over 6..11
    labels, _ = fastseq.nearest_centers(X, C)
    assert labels.max() < 6
    np.testing.assert_array_equal(labels, naive.sqdist(X, C).argmin(1))
    X1 = rng.standard_normal((300, 2))
    labels1, _ = fastseq.nearest_centers(X1, np.zeros((4, 2)))
    assert (labels1 == 0).all()


def test_chunks_do_not_change_the_answer(rng):
    X = rng.standard_normal((5000, 32)).astype(np.float32)
    C = rng.standard_normal((300, 32)).astype(np.float32)
    a = fastseq.nearest_centers(X, C)
    b = fastseq.nearest_centers(X, C, working_memory=0.5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_layouts_and_dtypes(rng):
    base = rng.standard_normal((400, 24))
    C = rng.standard_normal((10, 24))
    expected = naive.sqdist(base, C).argmin(1)
    fortran = np.asfortranarray(base)
    strided = np.repeat(base, 2, axis=0)[::2]
    for X in (fortran, strided):
        labels, _ = fastseq.nearest_centers(X, C)
        np.testing.assert_array_equal(labels, expected)
    Xi = rng.integers(-50, 50, size=(300, 4))
    Ci = rng.integers(-50, 50, size=(5, 4))
    labels, sqdist = fastseq.nearest_centers(Xi, Ci)
    D = naive.sqdist(Xi, Ci)
    np.testing.assert_allclose(sqdist, D.min(1))
    assert fastseq.pairwise_sqdist(Xi, Ci).dtype == np.float64
    assert fastseq.pairwise_sqdist(base.astype(np.float32), C).dtype == np.float32


def test_input_is_not_modified(rng):
    X = rng.standard_normal((100, 12)).astype(np.float32) + 1e3
    C = X[:5].copy()
    X0, C0 = X.copy(), C.copy()
    fastseq.nearest_centers(X, C)
    fastseq.pairwise_sqdist(X, C)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(C, C0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 4, 9, 70])
def test_pairwise_sqdist_matches_numpy(rng, dtype, d):
    n, m = int(rng.integers(1, 700)), int(rng.integers(1, 300))
    X = rng.standard_normal((n, d)).astype(dtype) * 3 + 100
    Y = rng.standard_normal((m, d)).astype(dtype) * 3 + 100
    P = fastseq.pairwise_sqdist(X, Y)
    D = naive.sqdist(X, Y)
    assert P.shape == (n, m) and P.dtype == dtype and (P >= 0).all()
    eps = np.finfo(dtype).eps
    scale = (np.asarray(X, np.float64) - Y.mean(0)) ** 2
    np.testing.assert_allclose(P, D, rtol=0, atol=64 * eps * (scale.sum(1).max() + D.max()))


def test_pairwise_with_itself_has_zero_diagonal(rng):
    X = rng.standard_normal((200, 30)).astype(np.float32) + 1e4
    P = fastseq.pairwise_sqdist(X)
    assert (np.diag(P) == 0).all()
    np.testing.assert_allclose(P, P.T, atol=1e-2 * P.max() * 1e-3)


def test_torch_tensors_in_and_out(rng):
    torch = pytest.importorskip("torch")
    X = torch.from_numpy(rng.standard_normal((300, 16)).astype(np.float32))
    C = torch.from_numpy(rng.standard_normal((7, 16)).astype(np.float32))
    labels, sqdist = fastseq.nearest_centers(X, C)
    assert isinstance(labels, torch.Tensor) and labels.dtype == torch.int64
    assert isinstance(sqdist, torch.Tensor)
    ref = torch.cdist(X.double(), C.double()) ** 2
    assert torch.equal(labels, ref.argmin(1))
    P = fastseq.pairwise_sqdist(X.requires_grad_(), C)
    assert isinstance(P, torch.Tensor) and P.dtype == torch.float32
    torch.testing.assert_close(P.double(), ref, rtol=1e-4, atol=1e-4)


def test_chunk_sizes_follow_budget():
    assert _chunking.cpu_rows_per_chunk(256, 4) == 512
    assert _chunking.cpu_rows_per_chunk(4096, 4) == _defaults.CPU_MIN_ROWS
    assert _chunking.cpu_rows_per_chunk(256, 4, working_memory=0.01) < 128
    # n = 400,000, k = 4,096 float32 on the GPU: the default tile stays within the default budget
    rows = _chunking.gpu_rows_per_chunk(4096, 64, 4)
    assert rows * 4096 * 4 <= _defaults.GPU_WORKING_MEMORY_MIB * 2**20


def test_lloyd_and_stream_layouts():
    # slots: fixed by the shape (never by the thread count), at most MAX_SLOTS, and their
    # float64 (k, d) sums within SLOT_BYTES
    chunk, slots = _chunking.lloyd_layout(1_000_000, 8, 2, 4)
    assert chunk == _defaults.CPU_MAX_ROWS and slots == _defaults.MAX_SLOTS
    assert _chunking.lloyd_layout(100, 8, 2, 4) == (_defaults.CPU_MAX_ROWS, 1)
    _, slots = _chunking.lloyd_layout(10**6, 4096, 4096, 4)
    assert slots == max(1, _defaults.SLOT_BYTES // (4096 * 4096 * 8))
    assert _chunking.stream_layout(10) == (_defaults.STREAM_CHUNK_ROWS, 1)
    assert _chunking.stream_layout(10**7) == (_defaults.STREAM_CHUNK_ROWS, _defaults.MAX_SLOTS)


def test_large_k_does_not_build_the_n_by_k_matrix(rng):
    """400,000 x 4,096 float32 would be 6.5 GB as a matrix; the chunked kernel needs a few MB."""
    tracemalloc = pytest.importorskip("tracemalloc")
    X = rng.standard_normal((400_000, 8), dtype=np.float32)
    C = rng.standard_normal((4096, 8), dtype=np.float32)
    fastseq.nearest_centers(X[:1000], C[:10])  # compile outside the measurement
    tracemalloc.start()
    labels, sqdist = fastseq.nearest_centers(X[:, :8], C)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 300 * 2**20  # NumPy allocations: outputs (6.4 MB) and small scratch
    assert labels.shape == (400_000,)


BAD = [
    (lambda r: np.array([[1.0, np.nan]]), "NaN"),
    (lambda r: np.array([[1.0, np.inf]]), "Inf"),
    (lambda r: np.ones(3), "2-D"),
    (lambda r: np.ones((0, 2)), "non-empty"),
    (lambda r: np.ones((3, 5)), "features"),
    (lambda r: np.array([["a", "b"]]), "numeric"),
]


@pytest.mark.parametrize("make,words", BAD)
@pytest.mark.parametrize("func", [fastseq.nearest_centers, fastseq.pairwise_sqdist])
def test_bad_input_names_the_argument(func, make, words):
    C = np.ones((2, 2))
    with pytest.raises((ValueError, TypeError), match=words) as info:
        func(make(None), C)
    assert "X" in str(info.value)
    if words != "features":
        with pytest.raises((ValueError, TypeError), match=words):
            func(np.ones((3, 2)), make(None))


def test_bad_device_and_budget():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="device"):
        fastseq.nearest_centers(X, X, device="gpu")
    with pytest.raises(ValueError, match="working_memory"):
        fastseq.nearest_centers(X, X, working_memory=-1)
