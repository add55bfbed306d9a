"""Dask arrays as K-means input: checks, persisting, the moments pass and the fixed-order reduction.

Everything the Dask estimators share lives here: validating a ``dask.array.Array`` X (rows-only
chunks, known sizes, a real dtype) and its ``sample_weight`` (a dask array chunked like X's rows),
persisting both once, one pass over the chunks for the column means, the mean variance and the
finiteness checks (so a NaN in one chunk is an error that names the chunk), and
:func:`tree_reduce`, the per-chunk-then-pairwise reduction whose order is fixed by the number of
chunks alone, never by the scheduler or the number of workers. dask is imported here only,
and only when a dask array was passed.

Each chunk task runs its Numba kernels on one thread: Dask's parallelism is across chunks (one
task per worker thread), and nested kernel threads would oversubscribe the cores.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import _backend
from .._validation import check_float, float_dtype_for
from ._moments import data_moments

# Chunk results are combined this many at a time, left to right, up a tree.
REDUCE_FAN_IN = 8

DASK_INSTALL_HINT = "install it with: pip install 'fastseq[dask]'"


def import_dask():
    """(dask, dask.array), or an ImportError saying how to install them."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is present whenever a dask array is
        raise ImportError(f"Dask arrays need dask[array] ({exc}); {DASK_INSTALL_HINT}") from None
    return dask, da


@contextlib.contextmanager
def one_kernel_thread():
    """Run the Numba kernels of one chunk task on a single thread (Numba's count is per thread)."""
    import numba
    saved = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(saved)


def chunk_namespace(xb):
    """(device, xp) of one chunk: CuPy chunks run the CUDA engine, NumPy chunks the CPU one."""
    device = "cuda" if _backend.is_cupy_array(xb) else "cpu"
    return device, _backend.get_namespace(device)


def check_dask_array(X, name="X"):
    """X as a 2-D dask array of float32/float64 chunked along rows only, with known chunk sizes.

    Other real dtypes become float64 (lazily: a new array, X itself is untouched).
    """
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D dask array, got {X.ndim}-D with shape "
                         f"{X.shape}")
    if any(math.isnan(c) for c in X.chunks[0]) or any(math.isnan(c) for c in X.chunks[1]):
        raise ValueError(f"{name}: expected a dask array with known chunk sizes, got unknown ones "
                         f"(call {name}.compute_chunk_sizes() first)")
    n, d = X.shape
    if len(X.chunks[1]) != 1:
        raise ValueError(f"{name}: expected a dask array chunked along rows only (one chunk "
                         f"spanning all {d} columns), got column chunks {X.chunks[1]}; rechunk "
                         f"with {name}.rechunk({{1: -1}})")
    if n == 0 or d == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {X.shape}")
    try:
        dtype = float_dtype_for(X.dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from None
    return X if X.dtype == dtype else X.astype(dtype)


def check_dask_weights(sample_weight, X):
    """sample_weight as a float64 dask array (n,) chunked like X's rows (None gives ones).

    A NumPy vector or a dask array with other chunks is rechunked to X's rows; the values are
    checked (finite, non-negative, positive total) in the moments pass.
    """
    _, da = import_dask()
    n = X.shape[0]
    rows = X.chunks[0]
    if sample_weight is None:
        return da.ones(n, chunks=(rows,), dtype=np.float64)
    if np.ndim(sample_weight) == 0 and not _backend.is_dask_array(sample_weight):
        value = check_float(sample_weight, "sample_weight", minimum=0.0, min_inclusive=False)
        return da.full(n, value, chunks=(rows,), dtype=np.float64)
    w = sample_weight if _backend.is_dask_array(sample_weight) else np.asarray(sample_weight)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight: expected shape ({n},) to match X, got shape {w.shape}")
    if w.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight: expected real numbers, got dtype {w.dtype}")
    if not _backend.is_dask_array(w):
        return da.from_array(w.astype(np.float64), chunks=(rows,))
    w = w.astype(np.float64)
    return w if w.chunks[0] == rows else w.rechunk((rows,))


def tree_reduce(parts, combine):
    """Reduce a list of Delayed chunk results with ``combine(list) -> result`` up a tree of fan-in
    REDUCE_FAN_IN. Groups are consecutive and combined left to right, so the order of every
    floating-point sum depends on the number of chunks only. Returns one Delayed."""
    dask, _ = import_dask()
    while len(parts) > 1:
        parts = [dask.delayed(combine, pure=True)(parts[i:i + REDUCE_FAN_IN])
                 for i in range(0, len(parts), REDUCE_FAN_IN)]
    return parts[0]


def blocks(X, w):
    """[(X block, w block, first row)] as Delayed objects, in row order."""
    xs = X.to_delayed().ravel()
    ws = w.to_delayed().ravel()
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64)
    return list(zip(xs, ws, (int(s) for s in starts)))


# -- the moments and checks pass ----------------------------------------------------------------

def _chunk_moments(xb, wb, index, start):
    """One chunk's (rows, mean (d,) float64, Σ squared deviations, [weight total], problems)."""
    device, xp = chunk_namespace(xb)
    xb = xp.ascontiguousarray(xb)
    rows, d = xb.shape
    problems = []
    if rows == 0:
        return 0, np.zeros(d), 0.0, [0.0], problems
    with one_kernel_thread():
        mean, mean_var = data_moments(xb, xp)
    mean = _backend.to_host(mean)
    if not (np.isfinite(mean).all() and np.isfinite(mean_var)):
        n_nan, n_inf = int(xp.isnan(xb).sum()), int(xp.isinf(xb).sum())
        if n_nan or n_inf:
            problems.append(("X", index, start, rows, n_nan, n_inf))
    wsum = float(wb.sum())
    n_bad_w = int((~np.isfinite(wb)).sum())
    n_neg_w = int((wb < 0).sum())
    if n_bad_w or n_neg_w:
        problems.append(("sample_weight", index, start, rows, n_bad_w, n_neg_w))
    return rows, mean, float(mean_var) * rows * d, [wsum], problems


def _combine_moments(parts):
    """Chan's pairwise update of (count, mean, Σ squared deviations), left to right."""
    n, mean, m2, wsums, problems = parts[0]
    problems, wsums = list(problems), list(wsums)
    for nb, mb, m2b, wb, pb in parts[1:]:
        problems += pb
        wsums += wb
        if nb == 0:
            continue
        total = n + nb
        delta = mb - mean
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + float(delta @ delta) * (n * nb / total)
        n = total
    return n, mean, m2, wsums, problems


def _raise_problems(problems):
    for what, index, start, rows, a, b in problems:
        where = f"chunk {index} (rows {start} to {start + rows - 1})"
        if what == "X":
            kinds = "/".join(k for k, v in (("NaN", a), ("Inf", b)) if v)
            raise ValueError(f"X: expected finite values (no NaN or inf), got {a + b} {kinds} "
                             f"value(s) in {where} of the dask array")
        if a:
            raise ValueError(f"sample_weight: expected finite weights, got {a} NaN/inf value(s) "
                             f"in {where}")
        raise ValueError(f"sample_weight: expected non-negative weights, got {b} negative "
                         f"value(s) in {where}")


class DaskData:
    """A persisted, validated dask X (n, d) with its weights (n,), the shift (X's column means in
    X's dtype), the mean feature variance, the weight of each chunk and the total. ``source`` is X before
    persisting (the lazy ``labels_`` are built on it, so a fitted estimator pins no memory)."""

    def __init__(self, X, sample_weight=None):
        dask, _ = import_dask()
        source = check_dask_array(X)
        w = check_dask_weights(sample_weight, source)
        self.source = source
        self.X, self.w = dask.persist(source, w)
        self.n, self.d = source.shape
        self.dtype = source.dtype
        self.n_chunks = len(source.chunks[0])
        parts = [dask.delayed(_chunk_moments, pure=True)(xb, wb, i, start)
                 for i, (xb, wb, start) in enumerate(blocks(self.X, self.w))]
        n, mean, m2, wsums, problems = dask.compute(tree_reduce(parts, _combine_moments))[0]
        _raise_problems(problems)
        self.chunk_weights = np.asarray(wsums)
        wsum = float(self.chunk_weights.sum())
        if not wsum > 0:
            raise ValueError("sample_weight: expected a positive total weight, got all zeros")
        self.mean = mean
        self.shift = mean.astype(self.dtype)
        self.shift64 = self.shift.astype(np.float64)
        self.mean_variance = max(m2, 0.0) / (n * self.d)
        self.total_weight = wsum

    def blocks(self):
        return blocks(self.X, self.w)

    def take(self, index):
        """(rows (m, d) in X's dtype, weights (m,) float64) on the host for sorted indices."""
        dask, _ = import_dask()
        rows, weights = dask.compute(self.X[index], self.w[index])
        return np.ascontiguousarray(_backend.to_host(rows)), _backend.to_host(weights)

    def draw(self, m, rs):
        """m rows (m, d) in X's dtype on the host, drawn with replacement in proportion to the
        weights, in random order: ``rs`` splits m over the chunks (multinomially, by chunk
        weight) and seeds each chunk's own draw, so the result depends on ``rs`` alone."""
        dask, _ = import_dask()
        per_chunk = rs.multinomial(m, self.chunk_weights / self.chunk_weights.sum())
        seeds = rs.randint(0, 2**31 - 1, size=self.n_chunks)
        parts = [dask.delayed(_chunk_draw, pure=True)(xb, wb, int(per_chunk[i]), int(seeds[i]))
                 for i, (xb, wb, _) in enumerate(self.blocks()) if per_chunk[i] > 0]
        rows = np.concatenate([_backend.to_host(r) for r in dask.compute(*parts)])
        return np.ascontiguousarray(rows[rs.permutation(m)])


def _chunk_draw(xb, wb, m, seed):
    """m rows of one chunk drawn with replacement in proportion to its weights."""
    p = np.asarray(_backend.to_host(wb), dtype=np.float64)
    index = np.random.RandomState(seed).choice(p.shape[0], m, p=p / p.sum())
    return _backend.to_host(xb)[index]
