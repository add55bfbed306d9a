"""Lloyd's algorithm over an engine (``_engine.py``), with scikit-learn's semantics.

Each iteration is one fused pass: assignment to the current centers, per-cluster weighted sums and
counts, and the objective. Empty clusters take the points farthest from their centers. The loop
stops when the labels no longer change (strict convergence) or when the total squared center
shift is at most ``tol`` (already scaled by the data's mean variance); unless it converged
strictly, one more assignment makes ``labels_`` agree with the final centers, as in
scikit-learn's ``_kmeans_single_lloyd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._backend import to_host


@dataclass
class LloydResult:
    """Centers in shifted float64 coordinates, labels and their squared distances on the engine's
    device, the weighted objective, and the number of iterations run."""

    Cs64: object
    labels: object
    sqdist: object
    inertia: float
    n_iter: int


def relocate_empty_clusters(engine, sums, counts, labels, sqdist):
    """Give each empty cluster one of the points farthest from their (old) centers.

    As scikit-learn: the farthest points are moved, farthest first (ties to the lowest index),
    out of their cluster's sums and into the empty cluster's. A point that sits on its center
    (distance 0) is never moved: that cannot lower the inertia, and with fewer distinct points
    than clusters it made the labels cycle among duplicate centers until max_iter. Empty
    clusters left without a point keep their centers. Returns the number relocated.
    """
    xp = engine.xp
    empty = xp.flatnonzero(counts == 0)
    n_empty = int(empty.shape[0])
    if n_empty == 0:
        return 0
    if xp is np:
        far = np.argsort(-sqdist, kind="stable")[:n_empty]
    else:  # CuPy's argsort is a stable radix sort
        far = to_host(xp.argsort(-sqdist)[:n_empty])
    far = far[to_host(sqdist[far]) > 0]
    n_empty = int(far.shape[0])
    empty = to_host(empty)[:n_empty]
    weights = to_host(engine.weights[far])
    rows = to_host(engine.rows(far))
    old = to_host(labels[far])
    for new_id, w, x, old_id in zip(empty, weights, rows, old):
        sums[int(old_id)] -= xp.asarray(x * w)
        sums[int(new_id)] = xp.asarray(x * w)
        counts[int(old_id)] -= w
        counts[int(new_id)] = w
    return n_empty


def new_centers(Cs64_old, sums, counts, xp):
    """sums / counts for clusters with weight; a cluster with none keeps its old center."""
    has = counts > 0
    safe = xp.where(has, counts, 1.0)
    return xp.where(has[:, None], sums / safe[:, None], Cs64_old)


def lloyd(engine, Cs64, *, max_iter, tol, verbose=0, callback=None, prune=True):
    """Run Lloyd iterations from the initial centers Cs64 (k, d), shifted float64.

    With ``prune`` (and an engine that supports it) each iteration reassigns only the rows whose
    Hamerly bounds do not prove their center unchanged; the result is the plain iteration's.

    ``tol`` is absolute (scikit-learn's tol times the mean feature variance). ``callback``, when
    given, is called as ``callback(iteration, inertia)`` after each iteration.
    """
    xp = engine.xp
    labels_old = None
    strict = False
    labels = sqdist = None
    n_iter = 0
    bounds = engine.start_pruning(Cs64.shape[0]) if prune and hasattr(engine, "start_pruning") \
        else None
    for n_iter in range(1, max_iter + 1):
        if bounds is None:
            labels, sqdist, sums, counts = engine.lloyd_pass(Cs64)
        else:
            labels, sqdist, sums, counts = engine.lloyd_pass_pruned(Cs64, bounds)
        relocate_empty_clusters(engine, sums, counts, labels, sqdist)
        Cs64_new = new_centers(Cs64, sums, counts, xp)
        shift_tot = float(((Cs64_new - Cs64) ** 2).sum())
        if verbose or callback is not None:
            inertia = float((engine.weights * sqdist).sum())
            if verbose:
                print(f"Iteration {n_iter - 1}, inertia {inertia:.6g}, center shift "
                      f"{shift_tot:.6g}.")
            if callback is not None:
                callback(n_iter, inertia)
        Cs64 = Cs64_new
        if labels_old is not None and bool(xp.array_equal(labels, labels_old)):
            strict = True
            if verbose:
                print(f"Converged at iteration {n_iter - 1}: strict convergence.")
            break
        if shift_tot <= tol:
            if verbose:
                print(f"Converged at iteration {n_iter - 1}: center shift {shift_tot:.6g} within "
                      f"tolerance {tol:.6g}.")
            break
        labels_old = labels
    if not strict:
        labels, sqdist, _, _ = engine.lloyd_pass(Cs64, update=False)
    inertia = float((engine.weights * sqdist).sum())
    return LloydResult(Cs64, labels, sqdist, inertia, n_iter)
