"""CUDA kernels for Lloyd's K-means and the k-means++ step (twins of ``_lloyd_cpu.py``).

Per chunk of rows: cuBLAS computes the shifted product (TF32 stays off), the fused argmin kernel of
``_nearest_cuda`` picks each row's center and its exact float64 distance, and
:func:`accumulate_update` adds each row's weighted shifted coordinates to its cluster's float64
sums with atomics. Everything stays on the device; nothing returns to the host per chunk.

float64 atomics make the last bits of the sums depend on the order the hardware applies them in;
after the division by the counts and the cast to the data's dtype this is almost always invisible,
but a GPU fit is not promised to be bit-identical run after run (the CPU fit is).
"""

from __future__ import annotations

from numba import cuda, float64

from ._nearest_cuda import _launch, _launch_kwargs, assign_chunk_cuda

FEATURES_PER_BLOCK = 32
ROWS_PER_UPDATE_BLOCK = 8


@cuda.jit
def accumulate_update(X, weights, labels, shift, start, stop, sums, counts):
    """sums[labels[r], t] += w[r] * (X[r, t] - shift[t]); counts[labels[r]] += w[r], for rows
    start..stop. Block = (FEATURES_PER_BLOCK, ROWS_PER_UPDATE_BLOCK); grid over (features, rows)."""
    t = cuda.blockIdx.x * FEATURES_PER_BLOCK + cuda.threadIdx.x
    r = start + cuda.blockIdx.y * ROWS_PER_UPDATE_BLOCK + cuda.threadIdx.y
    if r >= stop:
        return
    j = labels[r]
    w = weights[r]
    if t < X.shape[1]:
        cuda.atomic.add(sums, (j, t), w * (float64(X[r, t]) - float64(shift[t])))
    if t == 0:
        cuda.atomic.add(counts, j, w)


@cuda.jit
def sqdist_to_candidates(X, shift, cands, start, stop, dist):
    """dist[r, q] = ||X[r] - shift - cands[q]||^2 in float64 for rows start..stop; one thread per
    (row, candidate)."""
    r = start + cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    q = cuda.blockIdx.y
    if r >= stop:
        return
    acc = 0.0
    for t in range(X.shape[1]):
        diff = float64(X[r, t] - shift[t]) - float64(cands[q, t])
        acc += diff * diff
    dist[r, q] = acc


def lloyd_pass_cuda(X, weights, C, Cs, cnorm, shift, rows_per_chunk, update, labels, sqdist,
                    sums, counts, xp):
    """One Lloyd pass on the device: labels (n,) int64 and sqdist (n,) float64 for the centers
    C (k, d); when ``update``, sums (k, d) and counts (k,) float64 are zeroed and accumulated.

    Cs = C - shift and cnorm = ||Cs||^2 are in X's dtype; arrays are of the namespace ``xp``
    (CuPy, or NumPy under the CUDA simulator).
    """
    stream = _launch_kwargs(xp)
    n, d = X.shape
    Cs_t = xp.ascontiguousarray(Cs.T)
    if update:
        sums[...] = 0
        counts[...] = 0
    for start in range(0, n, rows_per_chunk):
        stop = min(start + rows_per_chunk, n)
        assign_chunk_cuda(X, C, Cs_t, cnorm, shift, start, stop, labels, sqdist, xp, stream)
        if update:
            grid = ((d + FEATURES_PER_BLOCK - 1) // FEATURES_PER_BLOCK,
                    (stop - start + ROWS_PER_UPDATE_BLOCK - 1) // ROWS_PER_UPDATE_BLOCK)
            _launch(accumulate_update, grid, (FEATURES_PER_BLOCK, ROWS_PER_UPDATE_BLOCK), stream,
                    X, weights, labels, shift, start, stop, sums, counts)


def candidate_sqdist_cuda(X, shift, cands, rows_per_chunk, dist, xp):
    """dist (n, t) float64: squared distance of every row to each shifted candidate (t, d)."""
    stream = _launch_kwargs(xp)
    n = X.shape[0]
    threads = 128
    for start in range(0, n, rows_per_chunk):
        stop = min(start + rows_per_chunk, n)
        grid = ((stop - start + threads - 1) // threads, cands.shape[0])
        _launch(sqdist_to_candidates, grid, (threads,), stream, X, shift, cands, start, stop, dist)

