"""The per-device engines behind KMeans, k-means++ and MiniBatchKMeans.

An engine holds validated data X (n, d) on its device, the float64 weights, and the fixed shift
(the data's mean, in X's dtype) that keeps float32 distances accurate far from the origin. It
offers the few fused passes the algorithms need; the algorithms themselves (``_lloyd.py``,
``_kmeans_plusplus.py``) are written once, over the engine and its array namespace ``xp``.

Centers cross the engine's boundary in shifted coordinates as float64 arrays ``Cs64`` (k, d):
the engine casts them to X's dtype for the GEMM and rebuilds the unshifted centers for the exact
distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._defaults import NEAREST_DIRECT_MAX_FEATURES, STREAM_CHUNK_ROWS
from .._threads import parallel_calls, single_threaded_blas
from .._validation import is_sparse
from ._chunking import gpu_rows_per_chunk, lloyd_layout, stream_layout

# The weights a pass without update is given: the kernel does not read them.
_UNUSED_WEIGHTS = np.zeros(1)
# Below this many clusters a plain pass costs little more than keeping the bounds (and the
# bounds kernels are not worth compiling).
PRUNE_MIN_CLUSTERS = 32
# Tighten upper bounds (one exact distance per row) only when few rows are left to reassign.
TIGHTEN_MAX_FRACTION = 0.5


@dataclass
class PlusPlusState:
    """Greedy k-means++ progress: closest (n,) float64 squared distance of each row to its
    nearest chosen center; on the CPU also that center's index (n,) int64, and the chosen
    centers (k, d) (shifted, float64; the first ``n_chosen`` rows are filled) with their squared
    norms, for the triangle-inequality pruning."""

    closest: object
    nearest: object = None
    chosen: object = None
    norms: object = None
    n_chosen: int = 0
    candidates: object = None
    newdist: object = None

    def add(self, center):
        self.chosen[self.n_chosen] = center
        self.norms[self.n_chosen] = center @ center
        self.n_chosen += 1


@dataclass
class BoundsState:
    """Hamerly bounds between Lloyd iterations: labels, upper / lower distance bounds (n,),
    the rows' shifted squared norms, and the shifted centers of the last pass."""

    labels: object
    upper: object
    lower: object
    xnorm: object
    Cs_prev: object = None
    reassigned: int = 0


# scratch for the center-to-center distances when working_memory is not given (MiB)
CENTER_GAP_MIB = 16


def half_gaps(Cs_f64, norms2, working_memory=None):
    """(k,) half the distance from each center to its nearest other center (a lower bound).

    Computed in blocks of centers so that the scratch stays within ``working_memory`` MiB (a few
    (block, k) float64 arrays) instead of k x k: peak memory grows with k, not k squared."""
    k = Cs_f64.shape[0]
    budget = (working_memory or CENTER_GAP_MIB) * 2**20
    block = int(max(1, min(k, budget // (3 * 8 * k))))
    out = np.empty(k)
    for start in range(0, k, block):
        stop = min(k, start + block)
        both = norms2[start:stop, None] + norms2[None, :]
        gap2 = both - 2.0 * (Cs_f64[start:stop] @ Cs_f64.T)
        gap2 -= 1e-12 * both  # stay a lower bound
        gap2[np.arange(stop - start), np.arange(start, stop)] = np.inf
        out[start:stop] = 0.5 * np.sqrt(np.maximum(gap2.min(axis=1), 0.0))
    return out


class CPUEngine:
    """Numba kernels on the host. X may be a memmap: it is read chunk by chunk, never copied."""

    device = "cpu"
    xp = np

    def __init__(self, X, weights, shift, working_memory=None):
        self.X, self.weights, self.shift = X, weights, shift
        self.shift64 = shift.astype(np.float64)
        self.working_memory = working_memory
        self.direct = X.shape[1] <= NEAREST_DIRECT_MAX_FEATURES

    def shifted(self, C):
        """(C, Cs, cnorm) for exact centers C (k, d) in X's dtype: Cs = C - shift in X's dtype
        and ||Cs||^2 summed in float64."""
        Cs = np.ascontiguousarray(C - self.shift)
        cnorm = np.einsum("ij,ij->i", Cs, Cs, dtype=np.float64).astype(C.dtype)
        return C, Cs, cnorm

    def centers(self, Cs64):
        """(C, Cs, cnorm): unshifted and shifted centers and ||Cs||^2, in X's dtype."""
        dtype = self.X.dtype
        C = np.ascontiguousarray((Cs64 + self.shift64).astype(dtype))
        Cs = np.ascontiguousarray(Cs64.astype(dtype))
        cnorm = np.einsum("ij,ij->i", Cs, Cs, dtype=np.float64).astype(dtype)
        return C, Cs, cnorm

    def lloyd_pass(self, Cs64, update=True, rows=None):
        """Assign rows (all, or the int64 indices ``rows``) to the centers Cs64 (k, d).

        Returns (labels (m,) int64, sqdist (m,) float64, sums (k, d) float64 of weighted shifted
        rows, counts (k,) float64 of weights); sums and counts are None unless ``update``.
        """
        return self._pass(self.centers(Cs64), update, rows)

    def assign(self, C):
        """(labels (n,) int64, sqdist (n,) float64): every row's nearest center among the exact
        centers C (k, d) in X's dtype (``nearest_centers``, ``predict``); weights unused."""
        labels, sqdist, _, _ = self._pass(self.shifted(C), False, None)
        return labels, sqdist

    def _pass(self, centers, update, rows):
        from . import _lloyd_cpu
        C, Cs, cnorm = centers
        X = self.X if rows is None else self.X[rows]
        if update:
            w = self.weights if rows is None else self.weights[rows]
        else:  # not read by the kernel; any float64 vector keeps the compiled signature
            w = _UNUSED_WEIGHTS
        k, d = C.shape
        # without update the slots hold no sums, so only the parallel split depends on them
        chunk, slots = lloyd_layout(X.shape[0], k, d if update else 1, X.dtype.itemsize,
                                    self.working_memory)
        m = X.shape[0]
        labels = np.empty(m, dtype=np.int64)
        sqdist = np.empty(m, dtype=np.float64)
        sums = np.empty((slots, k, d) if update else (1, 1, 1), dtype=np.float64)
        counts = np.empty((slots, k) if update else (1, 1), dtype=np.float64)
        with single_threaded_blas():
            _lloyd_cpu.lloyd_pass(X, w, C, Cs, cnorm, self.shift, self.direct, chunk, slots,
                                  update, labels, sqdist, sums, counts)
        if not update:
            return labels, sqdist, None, None
        return labels, sqdist, sums.sum(axis=0), counts.sum(axis=0)

    # -- Lloyd with bounds (Hamerly) -----------------------------------------------------

    def start_pruning(self, k):
        """Bounds for :meth:`lloyd_pass_pruned`, or None where the plain pass is as cheap (small
        d, where distances are summed directly, or very few clusters)."""
        if self.direct or k < PRUNE_MIN_CLUSTERS:
            return None
        from . import _hamerly_cpu
        n = self.X.shape[0]
        xnorm = np.empty(n, dtype=np.float64)
        with parallel_calls():
            _hamerly_cpu.shifted_sqnorms(self.X, self.shift, STREAM_CHUNK_ROWS, xnorm)
        return BoundsState(np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n), xnorm)

    def lloyd_pass_pruned(self, Cs64, state):
        """:meth:`lloyd_pass` (update=True) that reassigns only the rows whose bounds do not prove
        their center unchanged; same labels, distances, sums and counts as the plain pass."""
        from . import _hamerly_cpu
        X = self.X
        n, d = X.shape
        k = Cs64.shape[0]
        chunk, slots = lloyd_layout(n, k, d, X.dtype.itemsize, self.working_memory)
        C, Cs, cnorm = self.centers(Cs64)
        Cs_f64 = Cs.astype(np.float64)
        norms2 = np.einsum("ij,ij->i", Cs_f64, Cs_f64)
        cs_max = float(np.sqrt(norms2.max()))
        err_scale = 2.0 * (d + 2) * float(np.finfo(X.dtype).eps)
        with single_threaded_blas():
            if state.Cs_prev is None:
                rows = np.arange(n, dtype=np.int64)
            else:
                delta = np.sqrt(((Cs_f64 - state.Cs_prev) ** 2).sum(axis=1))
                half_gap = half_gaps(Cs_f64, norms2, self.working_memory)
                order = np.argsort(delta)
                top, second = float(delta[order[-1]]), float(delta[order[-2]])
                mark = np.empty(n, dtype=np.uint8)
                _hamerly_cpu.screen(state.labels, state.upper, state.lower, state.xnorm,
                                    err_scale, cs_max, half_gap, delta, top, second,
                                    int(order[-1]), STREAM_CHUNK_ROWS, mark)
                rows = np.flatnonzero(mark)
                if len(rows) <= TIGHTEN_MAX_FRACTION * n:  # else most would fail again anyway
                    _hamerly_cpu.tighten(X, self.shift, Cs, state.labels, state.upper,
                                         state.lower, state.xnorm, err_scale, cs_max, half_gap,
                                         rows, 1024, mark)
                    rows = np.flatnonzero(mark)
            state.reassigned = len(rows)
            _hamerly_cpu.reassign(X, self.shift, Cs, cnorm, state.xnorm, err_scale, cs_max,
                                  rows, chunk, state.labels, state.upper, state.lower)
        sqdist = np.empty(n, dtype=np.float64)
        sums = np.empty((slots, k, d), dtype=np.float64)
        counts = np.empty((slots, k), dtype=np.float64)
        with parallel_calls():
            _hamerly_cpu.accumulate(X, self.weights, C, self.shift, state.labels, chunk, sqdist,
                                    sums, counts)
        state.Cs_prev = Cs_f64
        return state.labels.copy(), sqdist, sums.sum(axis=0), counts.sum(axis=0)

    # -- greedy k-means++ ---------------------------------------------------------------

    def plusplus_start(self, first, n_clusters):
        """State for k-means++ after choosing row ``first``: closest (n,) float64 squared
        distances to the nearest chosen center, that center's index, and room for the
        ``n_clusters`` chosen centers (shifted float64) and their squared norms."""
        from . import _plusplus_cpu
        n, d = self.X.shape
        point = self._shifted_row(first)
        closest = np.empty(n, dtype=np.float64)
        with parallel_calls():
            _plusplus_cpu.sqdist_to_point(self.X, self.shift, point, STREAM_CHUNK_ROWS, closest)
        state = PlusPlusState(closest, np.zeros(n, dtype=np.int64),
                              np.empty((n_clusters, d)), np.empty(n_clusters))
        state.add(point.astype(np.float64))
        return state

    def _shifted_row(self, index):
        return np.ascontiguousarray(self.X[int(index)] - self.shift).astype(self.X.dtype)

    def plusplus_potentials(self, state, cand_rows):
        """(t,) float64: Σ w·min(closest, d(x, candidate)) for each candidate row."""
        from . import _plusplus_cpu
        n = self.X.shape[0]
        cands = np.stack([self._shifted_row(i) for i in cand_rows])
        cands64 = cands.astype(np.float64)
        c = state.n_chosen
        cand_norms = np.einsum("ij,ij->i", cands64, cands64)
        # one small GEMM instead of a (c, t, d) temporary; rounded down so that it stays a lower
        # bound (a smaller distance only makes the pruning test keep more rows)
        both = state.norms[:c, None] + cand_norms[None, :]
        cc2 = np.maximum(both - 2.0 * (state.chosen[:c] @ cands64.T) - 1e-12 * both, 0.0)
        chunk, slots = stream_layout(n)
        pots = np.empty((slots, len(cand_rows)), dtype=np.float64)
        if state.newdist is None or state.newdist.shape[0] != len(cand_rows):
            state.newdist = np.empty((len(cand_rows), n), dtype=np.float64)
        with parallel_calls():
            _plusplus_cpu.plusplus_potentials(self.X, self.shift, self.weights, state.closest,
                                           state.nearest, cands, cc2, chunk, pots, state.newdist)
        state.candidates = cands64
        return pots.sum(axis=0)

    def plusplus_take(self, state, q):
        """Add candidate ``q`` of the last :meth:`plusplus_potentials` call to the chosen centers."""
        from . import _plusplus_cpu
        with parallel_calls():
            _plusplus_cpu.plusplus_update(state.closest, state.nearest, state.newdist[q],
                                          state.n_chosen, STREAM_CHUNK_ROWS)
        state.add(state.candidates[q])

    def rows(self, index):
        """Rows of X as float64 shifted coordinates (for relocation and initial centers)."""
        return np.asarray(self.X[index], dtype=np.float64) - self.shift64


class CUDAEngine:
    """CuPy arrays and Numba CUDA kernels; nothing returns to the host inside a pass.

    ``xp`` is CuPy on a GPU; the CUDA-simulator test lane passes NumPy instead.
    """

    device = "cuda"

    def __init__(self, X, weights, shift, working_memory=None, xp=None):
        if xp is None:
            import cupy as xp
        self.xp = xp
        self.X, self.weights, self.shift = X, weights, shift
        self.shift64 = shift.astype(np.float64)
        self.working_memory = working_memory

    def shifted(self, C):
        Cs = self.xp.ascontiguousarray(C - self.shift)
        cnorm = (Cs.astype(np.float64) ** 2).sum(axis=1).astype(C.dtype)
        return C, Cs, cnorm

    def centers(self, Cs64):
        xp = self.xp
        dtype = self.X.dtype
        C = xp.ascontiguousarray((Cs64 + self.shift64).astype(dtype))
        Cs = xp.ascontiguousarray(Cs64.astype(dtype))
        cnorm = (Cs.astype(np.float64) ** 2).sum(axis=1).astype(dtype)
        return C, Cs, cnorm

    def lloyd_pass(self, Cs64, update=True, rows=None):
        return self._pass(self.centers(Cs64), update, rows)

    def assign(self, C):
        """As :meth:`CPUEngine.assign`; for small d one thread per row sums the distances to
        every center directly (no product tile)."""
        if self.X.shape[1] <= NEAREST_DIRECT_MAX_FEATURES:
            from ._nearest_cuda import nearest_direct_cuda
            return nearest_direct_cuda(self.X, C, self.xp)
        labels, sqdist, _, _ = self._pass(self.shifted(C), False, None)
        return labels, sqdist

    def _pass(self, centers, update, rows):
        from ._lloyd_cuda import lloyd_pass_cuda
        xp = self.xp
        C, Cs, cnorm = centers
        X, w = (self.X, self.weights) if rows is None else (self.X[rows], self.weights[rows])
        X = xp.ascontiguousarray(X)
        k, d = C.shape
        m = X.shape[0]
        labels = xp.empty(m, dtype=np.int64)
        sqdist = xp.empty(m, dtype=np.float64)
        sums = xp.empty((k, d), dtype=np.float64) if update else None
        counts = xp.empty(k, dtype=np.float64) if update else None
        rows_per_chunk = gpu_rows_per_chunk(k, d, X.dtype.itemsize, self.working_memory)
        lloyd_pass_cuda(X, w, C, Cs, cnorm, self.shift, rows_per_chunk, update, labels, sqdist,
                        sums, counts, xp)
        return labels, sqdist, sums, counts

    def plusplus_start(self, first, n_clusters):
        dist = self._candidate_sqdist(self.xp.asarray([int(first)]))
        return PlusPlusState(dist[:, 0].copy())

    def _candidate_sqdist(self, cand_rows):
        from ._lloyd_cuda import candidate_sqdist_cuda
        xp = self.xp
        n, d = self.X.shape
        cands = xp.ascontiguousarray((self.X[cand_rows] - self.shift).astype(self.X.dtype))
        dist = xp.empty((n, cands.shape[0]), dtype=np.float64)
        rows_per_chunk = gpu_rows_per_chunk(cands.shape[0], d, 8, self.working_memory)
        candidate_sqdist_cuda(self.X, self.shift, cands, rows_per_chunk, dist, self.xp)
        return dist

    def plusplus_potentials(self, state, cand_rows):
        dist = self._candidate_sqdist(cand_rows)
        state.candidates = dist  # kept for plusplus_take
        xp = self.xp
        return (self.weights[:, None] * xp.minimum(state.closest[:, None], dist)).sum(axis=0)

    def plusplus_take(self, state, q):
        self.xp.minimum(state.closest, state.candidates[:, q], out=state.closest)

    def rows(self, index):
        return self.X[index].astype(np.float64) - self.shift64


def make_engine(X, weights, shift, device, working_memory=None):
    """The engine for a resolved device (scipy sparse X: the sparse CPU engine)."""
    if is_sparse(X):
        from ._engine_sparse import SparseCPUEngine
        return SparseCPUEngine(X, weights, shift, working_memory)
    if device == "cuda":
        return CUDAEngine(X, weights, shift, working_memory)
    return CPUEngine(X, weights, shift, working_memory)
