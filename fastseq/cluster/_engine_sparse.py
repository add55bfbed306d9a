"""The engine for scipy sparse (CSR) data on the CPU: the same passes as ``CPUEngine``.

Sparse rows are never shifted (that would densify them): the kernels work on the unshifted
centers in float64 (``_sparse_cpu.py``), and sums and rows cross the boundary in the engine's
shifted coordinates like the dense engine's, so the algorithms need not know X is sparse.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from .._threads import parallel_calls
from .._validation import is_sparse
from ._chunking import lloyd_layout

_UNUSED_WEIGHTS = np.zeros(1)


@dataclass
class SparsePlusPlusState:
    """Greedy k-means++ progress: closest (n,) float64 squared distance of each row to its
    nearest chosen center, and the (n, t) distances to the last candidates."""

    closest: object
    candidates: object = None


def take_rows(X, rows, xp):
    """X[rows] as the engines want it: CSR stays CSR, dense becomes C-contiguous."""
    if is_sparse(X):
        return X[rows]
    return xp.ascontiguousarray(X[rows])


class SparseCPUEngine:
    """Numba kernels over a canonical CSR matrix (float32 or float64 data) on the host."""

    device = "cpu"
    xp = np

    def __init__(self, X, weights, shift, working_memory=None):
        self.X, self.weights = X, weights
        self.shift = shift
        self.shift64 = np.asarray(shift, dtype=np.float64)
        self.working_memory = working_memory

    def _dense_centers(self, C64):
        C64 = np.ascontiguousarray(C64, dtype=np.float64)
        return C64, np.einsum("ij,ij->i", C64, C64), np.count_nonzero(C64, axis=1).astype(np.int64)

    def centers(self, Cs64):
        """(C, Cs, cnorm) as ``CPUEngine.centers``: unshifted and shifted centers in X's dtype."""
        dtype = self.X.dtype
        C = np.ascontiguousarray((Cs64 + self.shift64).astype(dtype))
        Cs = np.ascontiguousarray(Cs64.astype(dtype))
        return C, Cs, np.einsum("ij,ij->i", Cs, Cs, dtype=np.float64).astype(dtype)

    def lloyd_pass(self, Cs64, update=True, rows=None):
        """As ``CPUEngine.lloyd_pass``: labels, sqdist and (``update``) shifted sums, counts."""
        X = self.X if rows is None else self.X[rows]
        w = (self.weights if rows is None else self.weights[rows]) if update else _UNUSED_WEIGHTS
        return self._pass(X, w, Cs64 + self.shift64, update)

    def assign(self, C):
        """(labels, sqdist) of every row against the exact centers C (k, d)."""
        labels, sqdist, _, _ = self._pass(self.X, _UNUSED_WEIGHTS, C.astype(np.float64), False)
        return labels, sqdist

    def _pass(self, X, w, C64, update):
        from . import _sparse_cpu
        C64, cnorm, cnnz = self._dense_centers(C64)
        k, d = C64.shape
        m = X.shape[0]
        chunk, slots = lloyd_layout(m, k, d if update else 1, X.dtype.itemsize,
                                    self.working_memory)
        labels = np.empty(m, dtype=np.int64)
        sqdist = np.empty(m, dtype=np.float64)
        sums = np.empty((slots, k, d) if update else (1, 1, 1))
        counts = np.empty((slots, k) if update else (1, 1))
        with parallel_calls():
            _sparse_cpu.sparse_lloyd_pass(X.data, X.indices, X.indptr, w, C64, cnorm, cnnz, chunk,
                                          slots, update, labels, sqdist, sums, counts)
        if not update:
            return labels, sqdist, None, None
        counts = counts.sum(axis=0)
        return labels, sqdist, sums.sum(axis=0) - counts[:, None] * self.shift64, counts

    def sqdist(self, C):
        """(n, k) squared distances to the exact centers C (k, d), in X's dtype."""
        from . import _sparse_cpu
        C64, cnorm, cnnz = self._dense_centers(C)
        out = np.empty((self.X.shape[0], C64.shape[0]))
        with parallel_calls():
            _sparse_cpu.sparse_sqdist(self.X.data, self.X.indices, self.X.indptr, C64, cnorm, cnnz,
                                      out)
        return out.astype(self.X.dtype)

    # -- greedy k-means++ (distances to a few candidate rows at a time) -------------------

    def _candidate_sqdist(self, cand_rows):
        from . import _sparse_cpu
        cands = self.X[np.asarray(cand_rows, dtype=np.int64)].toarray()
        C64, cnorm, cnnz = self._dense_centers(cands)
        out = np.empty((self.X.shape[0], C64.shape[0]))
        with parallel_calls():
            _sparse_cpu.sparse_sqdist(self.X.data, self.X.indices, self.X.indptr, C64, cnorm, cnnz,
                                      out)
        return out

    def plusplus_start(self, first, n_clusters):
        return SparsePlusPlusState(self._candidate_sqdist([int(first)])[:, 0].copy())

    def plusplus_potentials(self, state, cand_rows):
        dist = self._candidate_sqdist(cand_rows)
        state.candidates = dist
        return (self.weights[:, None] * np.minimum(state.closest[:, None], dist)).sum(axis=0)

    def plusplus_take(self, state, q):
        np.minimum(state.closest, state.candidates[:, q], out=state.closest)

    def rows(self, index):
        """Rows of X as dense float64 shifted coordinates."""
        index = np.atleast_1d(np.asarray(index, dtype=np.int64))
        return self.X[index].toarray().astype(np.float64) - self.shift64
