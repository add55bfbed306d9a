"""``fastseq.MiniBatchKMeans``: scikit-learn's mini-batch K-means, on CPU and GPU, with streaming.

Semantics follow ``sklearn.cluster.MiniBatchKMeans`` (1.9): batches drawn with replacement in
proportion to ``sample_weight`` (then weighted 1), each center a running weighted mean of the
points it was given (a count-based learning rate), random reassignment of centers whose count
falls below ``reassignment_ratio`` times the largest (every 10·k samples, or whenever a center is
empty), and early stopping on the exponentially smoothed mean batch inertia
(``max_no_improvement``) or on the center shift (``tol``).

Each step is one fused pass of the Lloyd engine over the batch (assignment, weighted sums and the
batch inertia together) followed by a handful of (k, d) array operations, written once for NumPy
and CuPy. On the GPU nothing returns to the host inside a step: batch indices are drawn on the
device, and the early-stopping rule reads the batch inertias every ``GPU_CHECK_EVERY`` steps (a GPU
fit may so run up to that many steps past the step at which the CPU would stop).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import warnings

from .. import _backend
from .._validation import check_float, check_int, check_random_state, check_sample_weight, draw_seed
from ._engine import make_engine
from ._engine_sparse import take_rows
from ._kmeans_base import BaseKMeans, initial_centers, validate_data
from ._moments import data_moments

GPU_CHECK_EVERY = 16


class _Stopping:
    """scikit-learn's early-stopping rule on the smoothed mean batch inertia."""

    def __init__(self, batch_size, n_samples, tol, max_no_improvement, verbose):
        self.alpha = min(batch_size * 2.0 / (n_samples + 1), 1.0)
        self.batch_size, self.tol = batch_size, tol
        self.max_no_improvement, self.verbose = max_no_improvement, verbose
        self.ewa = self.ewa_min = None
        self.no_improvement = 0

    def __call__(self, step, n_steps, batch_inertia, center_shift):
        """True when the fit should stop after ``step`` (0-based)."""
        batch_inertia /= self.batch_size
        step += 1
        if step == 1:
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}")
            return False
        self.ewa = batch_inertia if self.ewa is None else \
            self.ewa * (1 - self.alpha) + batch_inertia * self.alpha
        if self.verbose:
            print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}, "
                  f"ewa inertia: {self.ewa}")
        if self.tol > 0.0 and center_shift <= self.tol:
            if self.verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self.ewa_min is None or self.ewa < self.ewa_min:
            self.no_improvement = 0
            self.ewa_min = self.ewa
        else:
            self.no_improvement += 1
        if self.max_no_improvement is not None and self.no_improvement >= self.max_no_improvement:
            if self.verbose:
                print(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False


def minibatch_update(Cs64, counts, sums, batch_counts, xp):
    """Running weighted means: c <- (c·W + Σ w·x) / (W + Σ w) for centers given points.

    Cs64 (k, d) shifted float64 centers and counts (k,) float64 are updated in place."""
    total = counts + batch_counts
    has = batch_counts > 0
    safe = xp.where(has, total, 1.0)
    Cs64[...] = xp.where(has[:, None], (Cs64 * counts[:, None] + sums) / safe[:, None], Cs64)
    counts[...] = total


def reassign_low_counts(Cs64, counts, engine, ratio, permutation, xp, active=True):
    """Move centers whose count is below ``ratio`` times the largest to random batch rows.

    At most half the batch's rows are used (the lowest counts first); reassigned centers get the
    smallest count among the others, as in scikit-learn. ``engine`` holds the batch (its
    ``rows`` gives shifted float64 rows), ``permutation`` is a random permutation of its row
    indices; ``active`` may be a device boolean. Written without host synchronisation. Returns
    the (k,) boolean mask of reassigned centers.
    """
    k = counts.shape[0]
    b = engine.X.shape[0]
    low = counts < ratio * counts.max()
    rank = xp.empty(k, dtype=np.int64)
    rank[xp.argsort(counts, kind="stable") if xp is np else xp.argsort(counts)] = \
        xp.arange(k, dtype=np.int64)
    low &= rank < int(0.5 * b)
    low &= xp.asarray(active)
    slot = xp.clip(xp.cumsum(low) - 1, 0, b - 1)
    new_rows = engine.rows(permutation[slot])  # (k, d): only the rows that can be taken
    Cs64[...] = xp.where(low[:, None], new_rows, Cs64)
    others = xp.where(low, xp.inf, counts).min()
    counts[...] = xp.where(low, xp.where(xp.isfinite(others), others, counts), counts)
    return low


class MiniBatchKMeans(BaseKMeans):
    """Mini-batch K-means, as ``sklearn.cluster.MiniBatchKMeans`` with a ``device``.

    Parameters (as scikit-learn's)
    ------------------------------
    n_clusters : int, default 8.
    init : "k-means++" | "random" | array (k, d) | callable, run on ``init_size`` random rows.
    max_iter : int, default 100. Passes over the data (n_steps = max_iter · n // batch_size).
    batch_size : int, default 1024.
    verbose : int.
    compute_labels : bool, default True. Compute ``labels_`` and ``inertia_`` on the whole data at
        the end of ``fit`` (and on the chunk in ``partial_fit``).
    random_state : None, int, numpy RandomState or Generator.
    tol : float, default 0.0. Stop when the squared center change is at most ``tol`` times the
        mean feature variance (0 disables it).
    max_no_improvement : int or None, default 10. Stop after this many steps without improvement
        of the smoothed batch inertia; None disables it.
    init_size : int or None. Rows used for the initialisation (None: 3·batch_size, or 3·k
        where 3·batch_size < k), at most n_samples.
    n_init : "auto" or int. "auto": 1 for k-means++ or an array, 3 for "random"; the init with
        the lowest inertia on a validation sample is kept.
    reassignment_ratio : float, default 0.01.
    device : "auto" | "cpu" | "cuda".

    Attributes
    ----------
    cluster_centers_ (k, d) NumPy array in X's dtype; labels_ (n,) int64; inertia_ float;
    n_iter_ (passes), n_steps_ (mini-batch steps), n_features_in_, device_.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024,
                 verbose=0, compute_labels=True, random_state=None, tol=0.0,
                 max_no_improvement=10, init_size=None, n_init="auto", reassignment_ratio=0.01,
                 device="auto"):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.device = device

    _auto_n_init_random = 3  # scikit-learn's MiniBatchKMeans default for init="random"

    # -- parameters --------------------------------------------------------------------------

    def _check_params(self, n_samples, n_features, dtype):
        k, init, n_init = self._check_init_params(n_samples, n_features, dtype)
        batch = min(check_int(self.batch_size, "batch_size", minimum=1), n_samples)
        check_float(self.reassignment_ratio, "reassignment_ratio", minimum=0.0)
        if self.max_no_improvement is not None:
            check_int(self.max_no_improvement, "max_no_improvement", minimum=0)
        if self.init_size is None:  # as scikit-learn resolves it: 3·batch, or 3·k when below k
            init_size = 3 * batch if 3 * batch >= k else 3 * k
        else:
            init_size = check_int(self.init_size, "init_size", minimum=1)
            if init_size < k:
                warnings.warn(f"init_size={init_size} should be larger than n_clusters={k}. "
                              "Setting it to min(3*n_clusters, n_samples)", RuntimeWarning,
                              stacklevel=4)
                init_size = 3 * k
        self._batch_size, self._init_size = batch, min(init_size, n_samples)  # scikit-learn's names
        return k, init, n_init, batch, min(init_size, n_samples)

    # -- fitting -----------------------------------------------------------------------------

    def _init_centers(self, X, w, shift, init, k, n_init, init_size, rs, device):
        """The best of n_init initialisations (each on init_size random rows), judged on a
        validation sample of init_size rows; shifted float64 centers on the device."""
        xp = _backend.get_namespace(device)
        n = X.shape[0]
        valid = rs.randint(0, n, init_size)
        valid_engine = make_engine(X[_dev(valid, xp)], w[_dev(valid, xp)], shift, device)
        best = best_inertia = None
        for run in range(n_init):
            if init_size < n:
                rows = _dev(rs.randint(0, n, init_size), xp)
                engine = make_engine(take_rows(X, rows, xp), w[rows], shift, device)
            else:
                engine = make_engine(X, w, shift, device)
            Cs64 = initial_centers(engine, init, k, rs, X.shape[1], X.dtype)
            _, sqdist, _, _ = valid_engine.lloyd_pass(Cs64, update=False)
            inertia = float((valid_engine.weights * sqdist).sum())
            if self.verbose:
                print(f"Inertia for init {run + 1}/{n_init}: {inertia}")
            if best is None or inertia < best_inertia:
                best, best_inertia = Cs64, inertia
        return xp.array(best, dtype=np.float64)

    def _fit_dask(self, X, sample_weight):
        from ._dask_minibatch import fit_minibatch_dask
        return fit_minibatch_dask(self, X, sample_weight, _Stopping)

    def _fit_centers(self, data, k, init, n_init, batch, init_size):
        """``fit``: the mini-batch steps on validated data (a :class:`FitData`); batches are
        drawn in proportion to the sample weights."""
        X, device, xp, w, rs, shift = data.X, data.device, data.xp, data.weights, data.rs, data.shift
        n = X.shape[0]
        tol = data.mean_variance * float(self.tol) if self.tol else 0.0
        engine = make_engine(X, w, shift, device)
        Cs64 = self._init_centers(X, w, shift, init, k, n_init, init_size, rs, device)
        counts = xp.zeros(k, dtype=np.float64)
        n_steps = max(1, (int(self.max_iter) * n) // batch)  # max_iter checked above
        stop = _Stopping(batch, n, tol, self.max_no_improvement, self.verbose)
        draw = _BatchSampler(w, batch, rs, xp)
        unit = xp.ones(batch, dtype=np.float64)
        since_reassign = 0
        ratio = float(self.reassignment_ratio)
        callback = getattr(self, "_progress_callback", None)
        pending = []  # GPU: batch inertias and shifts not yet read by the stopping rule
        step = 0
        for step in range(n_steps):
            rows = draw()
            batch_engine = make_engine(take_rows(X, rows, xp), unit, shift, device)
            since_reassign += batch
            reassign = since_reassign >= 10 * k
            if reassign:
                since_reassign = 0
            old = Cs64.copy() if tol > 0 else None
            inertia = self._step(batch_engine, Cs64, counts, ratio, reassign, rs, xp)
            shift_sq = ((Cs64 - old) ** 2).sum() if tol > 0 else 0.0
            if xp is np:
                if callback is not None:
                    callback(step + 1, float(inertia))
                if stop(step, n_steps, float(inertia), float(shift_sq)):
                    break
                continue
            pending.append((inertia, shift_sq))
            if len(pending) == GPU_CHECK_EVERY or step == n_steps - 1:
                values = [(float(a), float(b)) for a, b in pending]
                first = step + 1 - len(values)
                pending = []
                stopped = False
                for i, (a, b) in enumerate(values):
                    if callback is not None:
                        callback(first + i + 1, a)
                    if stop(first + i, n_steps, a, b):
                        stopped = True
                        break
                if stopped:
                    break
        ewa = stop.ewa
        self._finish(engine, Cs64, counts, shift, step + 1, n, batch,
                     None if ewa is None else ewa * float(w.sum()))
        # the state partial_fit goes on from
        self._rs, self._since_reassign = rs, since_reassign

    def _step(self, engine, Cs64, counts, ratio, reassign, rs, xp):
        """One mini-batch step on a batch engine; updates Cs64 / counts in place and returns the
        batch inertia (a host float on the CPU, a device scalar on the GPU)."""
        _, sqdist, sums, batch_counts = engine.lloyd_pass(Cs64)
        inertia = (engine.weights * sqdist).sum()
        minibatch_update(Cs64, counts, sums, batch_counts, xp)
        if ratio > 0:
            active = reassign or bool((counts == 0).any()) if xp is np else \
                xp.logical_or(reassign, (counts == 0).any())
            if xp is np and not active:
                return float(inertia)
            b = engine.X.shape[0]
            perm = xp.asarray(rs.permutation(b)) if xp is np else xp.random.permutation(b)
            moved = reassign_low_counts(Cs64, counts, engine, ratio, perm, xp, active)
            if self.verbose and xp is np and moved.any():
                print(f"[MiniBatchKMeans] Reassigning {int(moved.sum())} cluster centers.")
        return float(inertia) if xp is np else inertia

    def _finish(self, engine, Cs64, counts, shift, n_steps, n, batch, ewa_inertia):
        C, _, _ = engine.centers(Cs64)
        self.cluster_centers_ = _backend.to_host(C)
        self._Cs64, self._counts, self._shift = Cs64, counts, shift
        self.n_steps_ = n_steps
        self.n_iter_ = int(np.ceil(n_steps * batch / n))
        if self.compute_labels:
            labels, sqdist, _, _ = engine.lloyd_pass(Cs64, update=False)
            self.labels_ = _backend.to_host(labels)
            self.inertia_ = float((engine.weights * sqdist).sum())
        else:  # as scikit-learn: the smoothed batch inertia, scaled to the whole data
            self.inertia_ = ewa_inertia if ewa_inertia is not None else float("nan")

    def partial_fit(self, X, y=None, sample_weight=None):
        """One mini-batch step on the chunk X (any number of rows).

        The first call initialises the centers from it (as scikit-learn does) and fixes the
        feature count; later chunks must have the same number of features. X may also be an
        iterator of chunks (a generator, or slices of a memmap), each taken in turn, or a dask
        array, whose chunks are computed and taken in turn.
        """
        if _backend.is_dask_array(X):
            from ._dask_minibatch import partial_fit_dask
            return partial_fit_dask(self, X, sample_weight)
        if isinstance(X, Iterator):
            if sample_weight is not None:
                raise ValueError("sample_weight: expected None when X is an iterator of chunks; "
                                 "pass (chunk, weights) through separate partial_fit calls")
            for chunk in X:
                self.partial_fit(chunk)
            return self
        first = not hasattr(self, "_Cs64")
        X, _, device = validate_data(self, X, reset=first)
        xp = _backend.get_namespace(device)
        n, d = X.shape
        w = check_sample_weight(sample_weight, n, np.float64, xp=xp)
        if first:
            self.device_ = device
            k, init, n_init, _, init_size = self._check_params(n, d, X.dtype)
            self._rs = check_random_state(self.random_state)
            shift = data_moments(X, xp)[0].astype(X.dtype)
            engine = make_engine(X, w, shift, device)
            if init_size < n:
                rows = _dev(self._rs.randint(0, n, init_size), xp)
                init_engine = make_engine(take_rows(X, rows, xp), w[rows], shift, device)
            else:
                init_engine = engine
            self._Cs64 = xp.array(initial_centers(init_engine, init, k, self._rs, d, X.dtype),
                                  dtype=np.float64)
            self._counts = xp.zeros(k, dtype=np.float64)
            self._shift = shift
            self._since_reassign = 0
            self.n_steps_ = 0
        else:
            engine = make_engine(X, w, self._shift.astype(X.dtype), device)
        k = self._Cs64.shape[0]
        self._since_reassign += n
        reassign = self._since_reassign >= 10 * k
        if reassign:
            self._since_reassign = 0
        self._step(engine, self._Cs64, self._counts, float(self.reassignment_ratio), reassign,
                   self._rs, xp)
        C, _, _ = engine.centers(self._Cs64)
        self.cluster_centers_ = _backend.to_host(C)
        self.n_steps_ += 1
        if self.compute_labels:
            labels, sqdist, _, _ = engine.lloyd_pass(self._Cs64, update=False)
            self.labels_ = _backend.to_host(labels)
            self.inertia_ = float((engine.weights * sqdist).sum())
        return self


class _BatchSampler:
    """Batch row indices drawn with replacement in proportion to the weights (uniform weights:
    plain ``randint``; otherwise a cumulative table built once, searched per batch)."""

    def __init__(self, weights, batch, rs, xp):
        self.batch, self.rs, self.xp = batch, rs, xp
        n = weights.shape[0]
        self.n = n
        uniform = bool((weights == weights[0]).all())
        self.cdf = None if uniform else xp.cumsum(weights / weights.sum())
        if xp is not np:  # draw on the device, seeded from the host generator
            self.device_rng = xp.random.RandomState(draw_seed(rs))

    def __call__(self):
        xp, n = self.xp, self.n
        if xp is np:
            if self.cdf is None:
                return self.rs.randint(0, n, self.batch)
            return np.minimum(np.searchsorted(self.cdf, self.rs.random_sample(self.batch),
                                              side="right"), n - 1)
        if self.cdf is None:
            return self.device_rng.randint(0, n, self.batch)
        u = self.device_rng.random_sample(self.batch)
        return xp.minimum(xp.searchsorted(self.cdf, u, side="right"), n - 1)


def _dev(index, xp):
    return index if xp is np else xp.asarray(index)

