"""Choosing the number of clusters: ``select_k`` fits one K-means per candidate k and picks one by
the silhouette, the elbow of the log-inertia curve, or the spherical-Gaussian BIC of X-means.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .. import _backend
from .._validation import check_array, check_random_state, check_sample_weight, draw_seed
from ._kmeans_base import BaseKMeans
from ._silhouette import encode_labels, score_array

METHODS = ("silhouette", "elbow", "bic")
ESTIMATORS = ("auto", "kmeans", "minibatch")
# estimator="auto" uses KMeans up to this many samples, MiniBatchKMeans above.
AUTO_MINIBATCH_ABOVE = 100_000
# select_k scores the silhouette on at most this many samples by default (exact below it).
SILHOUETTE_SAMPLE_SIZE = 10_000
# The log of the inertia is taken of max(inertia, INERTIA_FLOOR * the largest inertia).
INERTIA_FLOOR = 1e-12


@dataclass(frozen=True, repr=False)
class SelectKResult:
    """What :func:`select_k` found.

    Attributes
    ----------
    best_k : int, the chosen number of clusters.
    method : "silhouette" | "elbow" | "bic", the rule that chose it.
    table : dict of (len(k_values),) NumPy arrays, one row per candidate in increasing k:
        ``"k"`` (int64), ``"inertia"`` (float64, the estimator's ``inertia_``), ``"silhouette"``
        (float64, NaN where undefined: k = 1, or fewer than 2 distinct labels) and ``"bic"``
        (float64, see :func:`select_k`).
    model : the estimator fitted with ``n_clusters=best_k``.
    """

    best_k: int
    method: str
    table: dict = field(compare=False)
    model: object = field(compare=False)

    def as_table(self) -> str:
        """The table as aligned text, the chosen row marked with ``*``."""
        names = ("k", "inertia", "silhouette", "bic")
        cells = [[f"{int(k)}", f"{i:.6g}", f"{s:.4f}" if np.isfinite(s) else "nan",
                  f"{b:.6g}" if not np.isnan(b) else "nan"]
                 for k, i, s, b in zip(*(self.table[n] for n in names))]
        widths = [max(len(n), *(len(row[c]) for row in cells)) for c, n in enumerate(names)]
        lines = ["  " + "  ".join(n.rjust(w) for n, w in zip(names, widths))]
        for k, row in zip(self.table["k"], cells):
            mark = "*" if int(k) == self.best_k else " "
            lines.append(mark + " " + "  ".join(v.rjust(w) for v, w in zip(row, widths)))
        lines.append(f"best k = {self.best_k} by {self.method}")
        return "\n".join(lines)

    def __str__(self):
        return self.as_table()

    def __repr__(self):
        ks = ", ".join(str(int(k)) for k in self.table["k"])
        return (f"SelectKResult(best_k={self.best_k}, method={self.method!r}, k_values=[{ks}], "
                f"model={type(self.model).__name__})")


def select_k(X, k_values, *, method="silhouette", estimator="auto", random_state=None,
             sample_weight=None, silhouette_sample_size=SILHOUETTE_SAMPLE_SIZE, device="auto",
             **estimator_params):
    """Fit a K-means for every k in ``k_values`` and choose one.

    Parameters
    ----------
    X : array of shape (n, d), real; NumPy, CuPy or torch. Handed unchanged to the estimator.
    k_values : iterable of distinct integers in [1, n] (any order; the table is sorted by k).
    method : how ``best_k`` is chosen; all three columns of the table are computed whatever it is.

        - ``"silhouette"``: the k of the largest mean silhouette (:func:`silhouette_score` of the
          fitted labels; k = 1 has none and is skipped). Needs at least one k >= 2.
        - ``"elbow"``: the k of the point of the curve (k, log inertia) farthest below the chord
          joining its first and last points, both axes scaled to [0, 1] first:
          ``x = (k - k_min) / (k_max - k_min)``, ``y = (log I - min log I) / (max log I -
          min log I)``, best = argmax of ``y_chord(x) - y`` (ties: the smaller k). The log makes
          the rule see relative drops, so the first big drop does not dominate as it does on a
          linear scale. Needs at least 3 values of k.
        - ``"bic"``: the k of the largest Bayesian information criterion of a spherical Gaussian
          mixture with one shared variance, as X-means (Pelleg & Moore 2000) scores a
          K-means fit. With N = number of samples (total sample weight when weighted),
          n_c = size (weight) of cluster c, d features and I the inertia::

              sigma^2 = I / (d (N - k))                     (pooled per-coordinate variance)
              loglik  = sum_c n_c log(n_c / N) - N d / 2 log(2 pi sigma^2) - d (N - k) / 2
              p       = (k - 1) + k d + 1                   (mixing weights, centers, variance)
              BIC     = loglik - p / 2 log N

          (the paper's per-cluster formula, with its variance taken per coordinate and its
          ``-(R_n - K) / 2`` term summed consistently). BIC is NaN when N <= k, +inf when the
          inertia is 0 (a perfect fit).

    estimator : "auto" (``fastseq.KMeans`` for n <= 100,000, else ``fastseq.MiniBatchKMeans``),
        "kmeans", "minibatch", or an estimator instance (anything with ``get_params`` /
        ``set_params``, an ``n_clusters`` parameter, ``fit(X, sample_weight=...)`` and the
        ``labels_`` / ``inertia_`` attributes, such as scikit-learn's), cloned for every k.
    random_state : passed to every fit (and, when not None, overrides an instance's own); it also
        seeds the silhouette's sample, which is the same rows for every k.
    sample_weight : (n,) non-negative weights, passed to every fit and used in the BIC's counts.
        The silhouette is unweighted.
    silhouette_sample_size : None (exact silhouette) or the number of rows the silhouette is
        scored on when n is larger (default 10,000); a k whose sample holds fewer than 2 (or only
        distinct) labels gets NaN.
    device : "auto" | "cpu" | "cuda", for the fastseq estimators and the silhouette.
    **estimator_params : further constructor parameters of the estimator (``n_init``,
        ``max_iter``, ``batch_size``, ...).

    Returns
    -------
    :class:`SelectKResult` with ``best_k``, ``method``, ``table`` and ``model``.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    Xv, _ = _backend.unwrap(X)
    sil_device = _backend.resolve_device(device, Xv)
    Xv = _backend.to_device(check_array(Xv, "X"), sil_device)  # checked once, for every k
    n, d = Xv.shape
    ks = _check_k_values(k_values, n)
    if method == "elbow" and ks.size < 3:
        raise ValueError(f"k_values: the elbow method expected at least 3 values of k, got "
                         f"{ks.size} ({ks.tolist()})")
    if method == "silhouette" and ks.max() < 2:
        raise ValueError(f"k_values: the silhouette method expected at least one k >= 2, got "
                         f"{ks.tolist()}")
    if silhouette_sample_size is not None:
        if (isinstance(silhouette_sample_size, bool)
                or not isinstance(silhouette_sample_size, numbers.Integral)
                or silhouette_sample_size < 2):
            raise ValueError(f"silhouette_sample_size: expected None or an integer >= 2, got "
                             f"{silhouette_sample_size!r}")
        if silhouette_sample_size >= n:
            silhouette_sample_size = None
    weights = None
    if sample_weight is not None:
        scalar = isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool)
        weights = check_sample_weight(sample_weight if scalar else _backend.to_host(sample_weight), n,
                                      np.float64)
    proto = _make_estimator(estimator, n, random_state, device, estimator_params)
    sil_seed = _silhouette_seed(random_state)
    X64 = Xv.astype(np.float64, copy=False)  # the silhouette's dtype

    inertia = np.empty(ks.size)
    silhouette = np.full(ks.size, np.nan)
    bic = np.empty(ks.size)
    models = {}
    best = None  # (score, index, model) for silhouette / bic, kept as the loop goes
    for idx, k in enumerate(ks):
        model = _clone(proto, int(k))
        if isinstance(model, BaseKMeans):  # fastseq's own: no second validation of X
            fit_device = _backend.resolve_device(model.device, Xv)
            model._fit_array(_backend.to_device(Xv, fit_device), fit_device, sample_weight)
        elif sample_weight is None:
            model.fit(X)
        else:
            model.fit(X, sample_weight=sample_weight)
        labels = _backend.to_host(model.labels_).astype(np.int64, copy=False)
        inertia[idx] = float(model.inertia_)
        n_distinct = np.unique(labels).size
        if 2 <= n_distinct <= n - 1:
            try:
                codes = encode_labels(labels, n, check_count=False)
                silhouette[idx] = score_array(X64, codes, silhouette_sample_size, sil_seed,
                                              sil_device, None)
            except ValueError:  # the sample holds fewer than 2, or all distinct, labels: NaN
                if silhouette_sample_size is None:
                    raise
        bic[idx] = spherical_bic(inertia[idx], labels, int(k), d, weights)
        if method == "elbow":
            models[idx] = model
        else:
            score = silhouette[idx] if method == "silhouette" else bic[idx]
            if not np.isnan(score) and (best is None or score > best[0]):
                best = (score, idx, model)
    if method == "elbow":
        best_idx = elbow_index(ks, inertia)
        best_model = models[best_idx]
    else:
        if best is None:
            raise ValueError(f"k_values: no k gave a defined {method} (all NaN) for "
                             f"{ks.tolist()}")
        _, best_idx, best_model = best
    table = {"k": ks, "inertia": inertia, "silhouette": silhouette, "bic": bic}
    return SelectKResult(int(ks[best_idx]), method, table, best_model)


def _check_k_values(k_values, n):
    """k_values -> sorted (m,) int64 of distinct integers in [1, n]."""
    if isinstance(k_values, (str, bytes)) or k_values is None:
        raise TypeError(f"k_values: expected an iterable of integers, got {k_values!r}")
    if isinstance(k_values, numbers.Integral):
        raise TypeError(f"k_values: expected an iterable of integers (such as range(2, 10)), got "
                        f"the single integer {k_values!r}")
    try:
        values = list(k_values)
    except TypeError:
        raise TypeError(f"k_values: expected an iterable of integers, got "
                        f"{type(k_values).__name__}") from None
    if not values:
        raise ValueError("k_values: expected at least one value of k, got none")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Integral)]
    if bad:
        raise TypeError(f"k_values: expected integers, got {bad[0]!r} "
                        f"({type(bad[0]).__name__})")
    ks = np.array([int(v) for v in values], dtype=np.int64)
    out = ks[(ks < 1) | (ks > n)]
    if out.size:
        raise ValueError(f"k_values: expected integers in [1, n_samples = {n}], got "
                         f"{out.tolist()}")
    uniq = np.unique(ks)
    if uniq.size != ks.size:
        dups = sorted({int(v) for v in ks if (ks == v).sum() > 1})
        raise ValueError(f"k_values: expected distinct values, got duplicates {dups}")
    return uniq


def _make_estimator(estimator, n, random_state, device, params):
    """The prototype estimator that :func:`_clone` copies for every k."""
    if isinstance(estimator, str):
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator: expected one of {ESTIMATORS} or an estimator instance, "
                             f"got {estimator!r}")
        if estimator == "auto":
            estimator = "kmeans" if n <= AUTO_MINIBATCH_ABOVE else "minibatch"
        import fastseq
        cls = fastseq.KMeans if estimator == "kmeans" else fastseq.MiniBatchKMeans
        try:
            return cls(random_state=random_state, device=device, **params)
        except TypeError as exc:
            raise TypeError(f"estimator_params: {cls.__name__} does not accept them ({exc})") \
                from None
    if isinstance(estimator, type):
        raise TypeError(f"estimator: expected one of {ESTIMATORS} or an estimator instance, got "
                        f"the class {estimator.__name__} (pass {estimator.__name__}())")
    missing = [a for a in ("get_params", "set_params", "fit") if not hasattr(estimator, a)]
    if missing or "n_clusters" not in estimator.get_params(deep=False):
        what = f"no {', '.join(missing)}" if missing else "no n_clusters parameter"
        raise TypeError(f"estimator: expected one of {ESTIMATORS} or a K-means-like estimator "
                        f"instance (get_params, set_params, fit, n_clusters), got "
                        f"{type(estimator).__name__} ({what})")
    overrides = dict(params)
    if random_state is not None:
        overrides["random_state"] = random_state
    proto = _clone(estimator, estimator.get_params(deep=False)["n_clusters"])
    if overrides:
        try:
            proto.set_params(**overrides)
        except ValueError as exc:
            raise TypeError(f"estimator_params: {type(estimator).__name__} does not accept them "
                            f"({exc})") from None
    return proto


def _clone(estimator, k):
    """A new, unfitted copy of ``estimator`` with ``n_clusters=k``."""
    params = estimator.get_params(deep=False)
    params["n_clusters"] = k
    return type(estimator)(**params)


def _silhouette_seed(random_state):
    """One integer seed for the silhouette's sample, so every k is scored on the same rows."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return draw_seed(check_random_state(random_state))


def spherical_bic(inertia, labels, k, d, sample_weight=None):
    """X-means' BIC of a K-means fit (formula in :func:`select_k`): larger is better.

    inertia : float, the (weighted) sum of squared distances to the nearest centers.
    labels : (n,) int64 cluster indices in 0..k-1; sample_weight : (n,) or None.
    """
    counts = np.bincount(labels, weights=sample_weight, minlength=k).astype(np.float64)
    N = float(counts.sum())
    if N <= k:
        return np.nan
    p = (k - 1) + k * d + 1
    if inertia <= 0:
        return np.inf
    sigma2 = inertia / (d * (N - k))
    nz = counts[counts > 0]
    loglik = (float((nz * np.log(nz / N)).sum()) - N * d / 2 * np.log(2 * np.pi * sigma2)
              - d * (N - k) / 2)
    return loglik - p / 2 * np.log(N)


def elbow_index(ks, inertia):
    """Index of the elbow of (k, log inertia): the point farthest below the chord from the first
    to the last point, both axes scaled to [0, 1] (ties: the smaller k). ks sorted, >= 3 values."""
    x = (ks - ks[0]) / float(ks[-1] - ks[0])
    top = float(np.max(inertia))
    y = np.log(np.maximum(inertia, INERTIA_FLOOR * top)) if top > 0 else np.zeros(ks.size)
    span = float(y.max() - y.min())
    y = (y - y.min()) / span if span > 0 else np.zeros(ks.size)
    chord = y[0] + (y[-1] - y[0]) * x
    return int(np.argmax(chord - y))
