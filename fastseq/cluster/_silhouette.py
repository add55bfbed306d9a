"""Public silhouette: ``silhouette_samples`` and ``silhouette_score`` (Euclidean metric).

This module validates, samples, sorts the points by cluster, picks the backend and the strategy,
sizes chunks from the memory budget, and turns the per-row sums of the kernels
(``_silhouette_cpu.py`` / ``_silhouette_cuda.py``) into silhouette coefficients. The n x n distance
matrix is never formed: each chunk of rows is reduced into per-cluster sums of distances as soon
as its distances are known.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _backend
from .._defaults import SILHOUETTE_CHUNK_ROWS, SILHOUETTE_COL_BLOCK, SILHOUETTE_DIRECT_MAX_FEATURES
from .._threads import n_workers, single_threaded_blas
from .._validation import check_array, check_random_state, check_working_memory
from ._chunking import silhouette_cpu_rows, silhouette_gpu_rows, symmetric_plan


def silhouette_samples(X, labels, *, device="auto", working_memory=None):
    """Silhouette coefficient of every sample, with the Euclidean metric.

    For sample i in cluster A, ``a`` is the mean distance to the other members of A and ``b`` the
    smallest mean distance to the members of another cluster; ``s = (b - a) / max(a, b)``. As in
    scikit-learn, a sample alone in its cluster gets ``s = 0``, and so does a sample with
    ``a = b = 0``.

    Parameters
    ----------
    X : array of shape (n, d), real (computed in float64); NumPy, CuPy or torch (CPU or CUDA).
    labels : array-like of shape (n,), any values ``np.unique`` can sort (ints, strings, ...);
        between 2 and n - 1 distinct values.
    device : "auto" | "cpu" | "cuda".
    working_memory : MiB of scratch space (None: cache-sized tiles on the CPU, 1024 MiB on the GPU).

    Returns
    -------
    (n,) float64 array of coefficients in [-1, 1], in the caller's array type and on its device.
    Equal to ``sklearn.metrics.silhouette_samples(X, labels)`` within 1e-6 (see
    :func:`silhouette_score`). Every distance is computed in float64 (on centered data when the
    GEMM identity is used); the n x n matrix is never formed.
    """
    X, origin, device, working_memory = _prepare_X(X, device, working_memory)
    codes = encode_labels(labels, X.shape[0])
    s = _silhouette_array(X, codes, device, working_memory)
    return _backend.wrap(s, origin)


def silhouette_score(X, labels, *, sample_size=None, random_state=None, device="auto",
                     working_memory=None):
    """Mean silhouette coefficient over all samples (or over a random subset), Euclidean metric.

    Parameters
    ----------
    X : array of shape (n, d), real (computed in float64); NumPy, CuPy or torch (CPU or CUDA).
    labels : array-like of shape (n,); between 2 and n - 1 distinct values (in the sample, when
        sampling).
    sample_size : None (every sample: exact) or an integer in [2, n]: the score of that many rows
        drawn without replacement, as scikit-learn draws them
        (``check_random_state(random_state).permutation(n)[:sample_size]``).
    random_state : None (NumPy's global RandomState), an int seed, a ``np.random.RandomState``, or
        a ``np.random.Generator`` (drawn through its bit generator, as everywhere in fastseq). Only
        used with ``sample_size``.
    device : "auto" | "cpu" | "cuda".
    working_memory : MiB of scratch space (None: package default).

    Returns
    -------
    float, in [-1, 1]. With ``sample_size=None`` equal to ``sklearn.metrics.silhouette_score``
    within 1e-6 (about 1e-10 on float64 data; scikit-learn rounds float32 distances to float32,
    fastseq computes in float64); with the same ``sample_size`` and an int or RandomState
    ``random_state`` it scores the same rows as scikit-learn does.
    """
    X, _, device, working_memory = _prepare_X(X, device, working_memory)
    codes = encode_labels(labels, X.shape[0], check_count=False)
    return score_array(X, codes, sample_size, random_state, device, working_memory)


def score_array(X, codes, sample_size, random_state, device, working_memory):
    """:func:`silhouette_score` of validated float64 X (n, d) on ``device`` and host label codes
    (n,) int64 (from :func:`encode_labels` with ``check_count=False``); no validation of X."""
    n = X.shape[0]
    if sample_size is not None:
        sample_size = _check_sample_size(sample_size, n)
        rows = _sample_rows(random_state, n, sample_size)
        codes = codes[rows]
        X = X[_backend.to_device(rows, device)]
        codes = _recode(codes, n_total=n, sample_size=sample_size)
    else:
        _check_label_count(int(codes.max()) + 1, n)
    s = _silhouette_array(X, codes, device, working_memory)
    return float(s.mean(dtype=np.float64))


def _prepare_X(X, device, working_memory):
    working_memory = check_working_memory(working_memory)
    X, origin = _backend.unwrap(X)
    device = _backend.resolve_device(device, X)
    X = check_array(X, "X", dtype=np.float64)
    return _backend.to_device(X, device), origin, device, working_memory


def encode_labels(labels, n, *, check_count=True):
    """labels -> (n,) int64 codes 0..L-1 in sorted order of the distinct values."""
    if labels is None:
        raise TypeError("labels: expected an array-like of shape (n_samples,), got None")
    lab = _backend.to_host(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels: expected a 1-D array of shape ({n},), got a {lab.ndim}-D array "
                         f"of shape {lab.shape}")
    if lab.shape[0] != n:
        raise ValueError(f"labels: expected shape ({n},) to match X's {n} rows, got shape "
                         f"{lab.shape}")
    if lab.dtype.kind == "f" and not np.isfinite(lab).all():
        raise ValueError(f"labels: expected finite values, got {int((~np.isfinite(lab)).sum())} "
                         "NaN/Inf value(s)")
    try:
        _, codes = np.unique(lab, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"labels: expected sortable values (ints, strings, ...), got dtype "
                        f"{lab.dtype} ({exc})") from None
    codes = codes.reshape(-1).astype(np.int64, copy=False)
    if check_count:
        _check_label_count(int(codes.max()) + 1, n)
    return codes


def _check_label_count(n_labels, n, what="X has"):
    if not 2 <= n_labels <= n - 1:
        raise ValueError(f"labels: expected between 2 and n_samples - 1 = {n - 1} distinct values "
                         f"({what} {n} rows), got {n_labels}")


def _recode(codes, *, n_total, sample_size):
    """Re-encode the codes of a sample to 0..L-1 and check the sample has 2..size-1 labels."""
    _, codes = np.unique(codes, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64, copy=False)
    _check_label_count(int(codes.max()) + 1, sample_size,
                       what=f"sample_size={sample_size} of the {n_total} rows of X gives")
    return codes


def _check_sample_size(sample_size, n):
    if isinstance(sample_size, bool) or not isinstance(sample_size, numbers.Integral):
        raise TypeError(f"sample_size: expected None or an integer, got "
                        f"{type(sample_size).__name__} {sample_size!r}")
    sample_size = int(sample_size)
    if not 2 <= sample_size <= n:
        raise ValueError(f"sample_size: expected None or an integer in [2, n_samples = {n}], got "
                         f"{sample_size}")
    return sample_size


def _sample_rows(random_state, n, sample_size):
    """Row indices of the sample, drawn as scikit-learn's silhouette_score draws them."""
    rs = check_random_state(random_state)
    return np.asarray(rs.permutation(n)[:sample_size], dtype=np.int64)


def _silhouette_array(X, codes, device, working_memory):
    """(n,) float64 silhouettes of validated float64 X (on ``device``) and host codes 0..k-1."""
    order = np.argsort(codes, kind="stable")
    lab = np.ascontiguousarray(codes[order])
    counts = np.bincount(lab).astype(np.int64)
    gemm = X.shape[1] > SILHOUETTE_DIRECT_MAX_FEATURES
    xp = _backend.get_namespace(device)
    Xs = X[_backend.to_device(order, device)]
    if gemm:  # center, so the GEMM identity keeps its accuracy far from the origin
        Xs = Xs - Xs.mean(axis=0)
    Xs = xp.ascontiguousarray(Xs)
    if device == "cuda":
        import cupy
        from ._silhouette_cuda import silhouette_sums_cuda
        rows = silhouette_gpu_rows(X.shape[0], counts.shape[0], working_memory)
        intra, inter = silhouette_sums_cuda(Xs, cupy.asarray(lab), cupy.asarray(counts), gemm,
                                            rows, cupy)
    else:
        intra, inter = _sums_cpu(Xs, lab, counts, gemm, working_memory)
    s_sorted = silhouette_from_sums(intra, inter, _backend.to_device(counts[lab], device), xp)
    s = xp.empty_like(s_sorted)
    s[_backend.to_device(order, device)] = s_sorted
    return s


def _sums_cpu(Xs, lab, counts, gemm, working_memory):
    """(intra, inter) from the symmetric kernel (each pair once) when its buffers fit the budget,
    else from the row-chunked one (each pair twice, scratch independent of n)."""
    from . import _silhouette_cpu
    n = Xs.shape[0]
    k = counts.shape[0]
    intra = np.empty(n, dtype=np.float64)
    inter = np.empty(n, dtype=np.float64)
    norms = np.einsum("ij,ij->i", Xs, Xs)
    rows = SILHOUETTE_CHUNK_ROWS
    plan = symmetric_plan(lab, k, rows, working_memory)
    with single_threaded_blas():
        if plan is not None:
            clo, nlab, cbase, size = plan
            nb = clo.shape[0]
            accbuf = np.empty((nb, k, rows), dtype=np.float64)
            colbuf = np.empty(size, dtype=np.float64)
            _silhouette_cpu.symmetric_sums(Xs, norms, lab, counts, gemm, rows, clo, nlab, cbase,
                                           n_workers(), accbuf, colbuf, intra, inter)
        else:
            rows = silhouette_cpu_rows(k, working_memory)
            _silhouette_cpu.silhouette_sums(Xs, norms, lab, counts, gemm, rows, SILHOUETTE_COL_BLOCK,
                                            n_workers(), intra, inter)
    return intra, inter


def silhouette_from_sums(intra, inter, own_counts, xp):
    """s = (b - a) / max(a, b) with a = intra / (own_counts - 1) and b = inter; 0 for a sample
    alone in its cluster and where a = b = 0 (scikit-learn's conventions)."""
    denom = own_counts - 1
    safe = xp.maximum(denom, 1)
    a = intra / safe
    top = xp.maximum(a, inter)
    ok = (denom > 0) & (top > 0)
    return xp.where(ok, (inter - a) / xp.where(ok, top, 1.0), 0.0)
