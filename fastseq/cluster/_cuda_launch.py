"""Launch planning of the clustering CUDA kernels: block shapes, grids, and the grid limits.

Pure Python (no Numba, no CuPy), so that every grid a kernel would be launched with can be
checked on any machine with the limits of a real device as inputs. The kernels
(``_nearest_cuda``, ``_lloyd_cuda``, ``_silhouette_cuda``) take their block shapes from here and
launch only grids built here.

Hardware limits (compute capability 9.0, H100 and H200 alike): ``gridDim.x`` up to 2^31 - 1,
``gridDim.y`` and ``gridDim.z`` up to 65,535, 1,024 threads per block. A launch beyond them fails
with ``CUDA_ERROR_INVALID_VALUE``; the simulator does not check them, so :func:`check_grid` does,
before every launch. Rows therefore always go on ``blockIdx.x``; ``blockIdx.y`` carries only
small counts (feature tiles, candidates), and :func:`max_chunk_rows` caps the rows per chunk so
that every per-chunk grid fits.
"""

from __future__ import annotations

# (x, y, z) grid limits and threads per block of compute capability 9.0 (H100, H200)
GRID_LIMITS = (2**31 - 1, 65_535, 65_535)
MAX_THREADS_PER_BLOCK = 1024

# block shapes of the kernels
ROWS_PER_BLOCK = 8          # argmin_rows: (LANES, ROWS_PER_BLOCK) threads, one row per y-thread
LANES = 32
ROW_THREADS = 128           # one thread per row: nearest_direct, sqdist_to_candidates
PIECE_ROWS = 128            # the centroid update sums pieces of at most this many sorted rows
FEATURE_THREADS = 32        # threads per block over the features in the update kernels
REDUCE_THREADS = 128        # silhouette reduce_rows: one thread per row


def _ceil(a, b):
    return -(-a // b)


def check_grid(grid, block, limits=GRID_LIMITS, what="kernel"):
    """Return ``grid`` as a tuple after checking it and ``block`` against the device limits;
    ValueError naming the kernel, the dimension and the limit otherwise."""
    grid = tuple(int(g) for g in (grid if isinstance(grid, tuple) else (grid,)))
    block = tuple(int(b) for b in (block if isinstance(block, tuple) else (block,)))
    for axis, (g, lim) in enumerate(zip(grid, limits)):
        if not 1 <= g <= lim:
            raise ValueError(f"{what}: gridDim.{'xyz'[axis]} = {g} is outside 1..{lim}")
    threads = 1
    for b in block:
        threads *= b
    if threads > MAX_THREADS_PER_BLOCK:
        raise ValueError(f"{what}: {threads} threads per block, more than "
                         f"{MAX_THREADS_PER_BLOCK}")
    return grid


def max_chunk_rows(k, d, limits=GRID_LIMITS):
    """The most rows one chunk of a Lloyd or k-means++ pass may hold so that each of its launches
    fits the grid limits (:func:`lloyd_chunk_grids`, :func:`candidate_grid`)."""
    rows = min(limits[0] * ROWS_PER_BLOCK, limits[0] * ROW_THREADS,
               (limits[0] - k) * PIECE_ROWS)
    return max(1, rows)


def lloyd_chunk_grids(m, k, d, limits=GRID_LIMITS):
    """{kernel: (grid, block)} of one Lloyd chunk of m rows, k centers, d features: the argmin
    over the product tile, the per-piece sums of the sorted rows (at most ceil(m / PIECE_ROWS) + k
    pieces: every cluster adds at most one partial piece) and their per-cluster reduction."""
    f_tiles = _ceil(d, FEATURE_THREADS)
    plan = {
        "argmin_rows": ((_ceil(m, ROWS_PER_BLOCK),), (LANES, ROWS_PER_BLOCK)),
        "piece_sums": ((_ceil(m, PIECE_ROWS) + k, f_tiles), (FEATURE_THREADS,)),
        "reduce_pieces": ((k, f_tiles), (FEATURE_THREADS,)),
    }
    return {name: (check_grid(g, b, limits, name), b) for name, (g, b) in plan.items()}


def candidate_grid(m, n_cands, limits=GRID_LIMITS):
    """(grid, block) of sqdist_to_candidates over m rows and n_cands candidates (on y)."""
    return (check_grid((_ceil(m, ROW_THREADS), n_cands), (ROW_THREADS,), limits,
                       "sqdist_to_candidates"), (ROW_THREADS,))


def direct_grid(n, limits=GRID_LIMITS):
    """(grid, block) of nearest_direct: one thread per row of all n rows."""
    return (check_grid((_ceil(n, ROW_THREADS),), (ROW_THREADS,), limits, "nearest_direct"),
            (ROW_THREADS,))


def silhouette_chunk_grids(m, k, lanes, limits=GRID_LIMITS):
    """{kernel: (grid, block)} of one silhouette chunk of m rows and k clusters: one block per
    (row, cluster) pair, then one thread per row."""
    return {"segment_sums": (check_grid((m * k,), (lanes,), limits, "segment_sums"), (lanes,)),
            "reduce_rows": (check_grid((_ceil(m, REDUCE_THREADS),), (REDUCE_THREADS,), limits,
                                       "reduce_rows"), (REDUCE_THREADS,))}


def silhouette_max_rows(k, limits=GRID_LIMITS):
    """The most rows per silhouette chunk so that the (row, cluster) grid fits gridDim.x."""
    return max(1, limits[0] // max(1, k))
