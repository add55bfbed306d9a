"""Launch planning of the clustering CUDA kernels (fastseq/cluster/_cuda_launch.py and the GPU
chunk sizes of _chunking.py) with the grid limits of an H100/H200 as inputs, at sizes the GPU
tests never reach (CPU lane); the sorted-piece centroid update against a float64 reference summed
in the same order, bit for bit, and with tiny grid limits forcing many chunks (simulator lane);
the update kernels' PTX free of atomics (compile lane); the stream-free hand-over of CuPy arrays
(CPU lane, with stand-ins for CuPy and Numba's conversion)."""

import numpy as np
import pytest

from fastseq.cluster import _cuda_launch as launch
from fastseq.cluster._chunking import gpu_rows_per_chunk, silhouette_gpu_rows
from fastseq.cluster._cuda_launch import (GRID_LIMITS, PIECE_ROWS, check_grid, lloyd_chunk_grids,
                                          max_chunk_rows)
from naive import blobs

H100 = GRID_LIMITS  # H100 and H200 share compute capability 9.0 and its grid limits


def _fits(grid, limits):
    return all(1 <= g <= lim for g, lim in zip(grid, limits))


def test_million_row_chunk_fits_the_grid_limits():
    """KMeans(100) on 1,000,000 x 128 float32: the default budget makes one chunk of all rows,
    and every launch over it fits; the old update grid (rows on gridDim.y) would not."""
    n, d, k = 1_000_000, 128, 100
    rows = gpu_rows_per_chunk(k, d, 4)
    assert rows >= n
    for name, (grid, block) in lloyd_chunk_grids(n, k, d, H100).items():
        assert _fits(grid, H100), name
    assert not _fits((d // 32, -(-n // 8)), H100)      # the grid the atomics kernel used
    with pytest.raises(ValueError, match=r"gridDim.y = 125000 is outside 1..65535"):
        check_grid((4, 125_000), (32, 8), H100)


def test_random_shapes_every_chunk_launch_fits(rng):
    """Fresh shapes up to 10^10 rows and limits down to a few blocks: the chunk rows never
    exceed what the limits allow, and every grid of a chunk of that many rows fits."""
    for _ in range(300):
        k = int(rng.integers(1, 70_000))
        d = int(rng.integers(1, 100_000))
        small = rng.random() < 0.5
        limits = ((int(rng.integers(k + 1, k + 10_000)), int(rng.integers(1, 65_536)), 65_535)
                  if small else H100)
        budget = float(rng.choice([1024.0, 1e7, 0.01]))
        rows = gpu_rows_per_chunk(k, d, int(rng.choice([4, 8])), budget, limits)
        assert 1 <= rows <= max_chunk_rows(k, d, limits)
        if -(-d // launch.FEATURE_THREADS) > limits[1]:
            with pytest.raises(ValueError, match="gridDim.y"):
                lloyd_chunk_grids(rows, k, d, limits)
            continue
        for name, (grid, block) in lloyd_chunk_grids(rows, k, d, limits).items():
            assert _fits(grid, limits), (name, grid, limits)
        assert _fits(launch.candidate_grid(rows, 3, limits)[0], limits)


def test_silhouette_chunks_fit_the_grid(rng):
    for _ in range(100):
        n = int(rng.integers(1, 10**9))
        k = int(rng.integers(2, 10**6))
        limits = (int(rng.integers(k, 10 * k)), 65_535, 65_535) if rng.random() < 0.5 else H100
        m = silhouette_gpu_rows(n, k, float(rng.choice([1.0, 1e9])), limits)
        grids = launch.silhouette_chunk_grids(m, k, 128, limits)
        assert all(_fits(g, limits) for g, _ in grids.values())


@pytest.mark.parametrize("grid,block,message", [
    ((0,), (32,), "gridDim.x = 0"), ((2**31,), (32,), "gridDim.x = 2147483648"),
    ((1, 1, 70_000), (32,), "gridDim.z"), ((1,), (32, 33), "1056 threads per block")])
def test_check_grid_names_the_broken_limit(grid, block, message):
    with pytest.raises(ValueError, match=message):
        check_grid(grid, block, H100, "argmin_rows")


def _reference_update(X, w, labels, shift, k, rows_per_chunk, piece_rows):
    """The sums and counts in the order the sorted-piece update promises, in float64 scalars:
    per chunk, rows sorted by (label, row), pieces of PIECE_ROWS summed in order, then a
    cluster's pieces added in order to its running sums."""
    n, d = X.shape
    sums = np.zeros((k, d))
    counts = np.zeros(k)
    for start in range(0, n, rows_per_chunk):
        lab = labels[start:start + rows_per_chunk]
        for j in range(k):
            rows = start + np.flatnonzero(lab == j)
            for p in range(0, len(rows), piece_rows):
                piece = rows[p:p + piece_rows]
                acc = np.zeros(d)
                wsum = 0.0
                for r in piece:
                    acc = acc + w[r] * (X[r].astype(np.float64) - shift.astype(np.float64))
                    wsum += w[r]
                sums[j] += acc
                counts[j] += wsum
    return sums, counts


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sorted_piece_update_is_exact_and_repeatable(rng, monkeypatch, dtype):
    """A cluster of several pieces, empty clusters, several chunks: the sums equal the ordered
    reference bit for bit, twice over. Pieces of 4 rows (the simulator runs one Python thread
    per GPU thread, so the shapes stay tiny; the kernel reads the constant at run time there)."""
    from fastseq.cluster import _lloyd_cuda
    from fastseq.cluster._engine import CUDAEngine
    piece = 4
    monkeypatch.setattr(launch, "PIECE_ROWS", piece)
    monkeypatch.setattr(_lloyd_cuda, "PIECE_ROWS", piece)
    n, d, k = 40, 3, 5
    X = (rng.standard_normal((n, d)) * 3 + 50).astype(dtype)
    X[: n // 2] = X[0] + rng.standard_normal((n // 2, d)).astype(dtype) * 1e-3  # one big cluster
    w = rng.uniform(0.5, 2.0, n)
    shift = X.mean(axis=0, dtype=np.float64).astype(dtype)
    Cs64 = np.vstack([X[0], X[n - 1], X[n - 2], X[0] + 1e6, X[0] - 1e6]).astype(np.float64) \
        - shift.astype(np.float64)
    chunk = 16
    engine = CUDAEngine(X, w, shift, working_memory=(k + d) * X.itemsize * chunk / 2**20, xp=np)
    labels, _, sums, counts = engine.lloyd_pass(Cs64)
    assert np.bincount(labels, minlength=k)[3:].sum() == 0 and labels.tolist().count(0) > piece
    ref_sums, ref_counts = _reference_update(X, w, labels, shift, k, chunk, piece)
    assert np.array_equal(sums, ref_sums) and np.array_equal(counts, ref_counts)
    _, _, sums2, counts2 = engine.lloyd_pass(Cs64)
    assert np.array_equal(sums2, sums) and np.array_equal(counts2, counts)


@pytest.mark.cudasim
def test_tiny_grid_limits_force_many_chunks_same_result(rng, monkeypatch):
    """With gridDim.x capped at a few blocks every launch must still fit (checked before each
    one), so the pass splits into many small chunks: labels, sums and counts as one chunk."""
    from fastseq.cluster import _chunking, _lloyd_cuda, _nearest_cuda
    from fastseq.cluster._engine import CUDAEngine
    X = blobs(rng, 60, 4, 3, spread=10.0, dtype=np.float64)[0]
    w = rng.uniform(0.5, 2.0, len(X))
    shift = X.mean(axis=0)
    Cs64 = X[:3] - shift
    full = CUDAEngine(X, w, shift, xp=np).lloyd_pass(Cs64)
    tiny = (6, 2, 2)
    real_check = launch.check_grid
    seen = []

    def check(grid, block, limits=GRID_LIMITS, what="kernel"):
        seen.append(grid)
        return real_check(grid, block, tiny, what)

    monkeypatch.setattr(_nearest_cuda, "check_grid", check)
    monkeypatch.setattr(_lloyd_cuda, "lloyd_chunk_grids",
                        lambda m, k, d: launch.lloyd_chunk_grids(m, k, d, tiny))
    # argmin_rows puts 8 rows per block on gridDim.x <= 6: at most 48 rows per chunk
    assert _chunking.gpu_rows_per_chunk(3, 4, 8, None, tiny) == 48
    monkeypatch.setattr("fastseq.cluster._engine.gpu_rows_per_chunk",
                        lambda k, d, itemsize, wm: _chunking.gpu_rows_per_chunk(k, d, itemsize,
                                                                                wm, tiny))
    chunked = CUDAEngine(X, w, shift, xp=np).lloyd_pass(Cs64)
    assert len(seen) == 2 * 3 and all(_fits(g, tiny) for g in seen)   # 2 chunks, 3 launches
    np.testing.assert_array_equal(chunked[0], full[0])
    np.testing.assert_allclose(chunked[2], full[2], rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(chunked[3], full[3], rtol=1e-14)


@pytest.mark.compile
def test_update_kernels_compile_without_atomics():
    cuda = pytest.importorskip("numba.cuda")
    from numba import float32, float64, int64
    from fastseq.cluster._lloyd_cuda import piece_sums, reduce_pieces
    i1, f1, f2 = int64[::1], float64[::1], float64[:, ::1]
    try:
        ptx, _ = cuda.compile_ptx(piece_sums.py_func,
                                  (float32[:, ::1], f1, i1, int64, i1, i1, float32[::1], f2, f1),
                                  cc=(9, 0))
        ptx2, _ = cuda.compile_ptx(reduce_pieces.py_func, (f2, f1, i1, f2, f1), cc=(9, 0))
    except Exception as exc:  # no NVVM/NVRTC on this machine
        if "NVVM" in str(exc) or "nvrtc" in str(exc).lower():
            pytest.skip(f"no CUDA compiler available: {exc}")
        raise
    for p in (ptx, ptx2):
        assert ".target sm_90" in p
        assert "atom." not in p and "red." not in p


class _FakeCupy:
    """Carries a CUDA array interface with a stream, as CuPy's arrays do."""

    def __init__(self):
        self.__cuda_array_interface__ = {"shape": (3,), "typestr": "<f8", "data": (1234, False),
                                         "version": 3, "strides": None, "stream": 1}


def test_cupy_arrays_reach_numba_without_a_stream_sync(monkeypatch):
    """Every array argument of a clustering launch is converted with sync=False and without the
    interface's stream; a raw CuPy array reaching the kernel would make numba-cuda synchronise
    the stream once per argument."""
    from numba import cuda
    from fastseq.cluster import _nearest_cuda
    calls = []

    def convert(desc, owner=None, sync=True):
        calls.append((dict(desc), sync))
        return ("view", owner)

    monkeypatch.setattr(cuda, "from_cuda_array_interface", convert)
    got = []

    class Kernel:
        __name__ = "fake"

        def __getitem__(self, cfg):
            return lambda *args: got.append((cfg, args))

    a, b = _FakeCupy(), _FakeCupy()
    _nearest_cuda._launch(Kernel(), (4,), (32,), "stream", a, 7, b)
    assert got == [(((4,), (32,), "stream"), (("view", a), 7, ("view", b)))]
    assert [sync for _, sync in calls] == [False, False]
    assert all("stream" not in desc for desc, _ in calls)
    with pytest.raises(ValueError, match="fake: gridDim.x = 0"):
        _nearest_cuda._launch(Kernel(), (0,), (32,), None, a)
