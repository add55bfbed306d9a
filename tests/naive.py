"""Plain NumPy references the kernels are checked against, and the tests' one data generator.

Everything here is float64, written for clarity rather than speed (O(n k) memory for the
distances, O(n^2) for the silhouette, one sequence and one step at a time for the recurrence).
"""

import numpy as np

from fastseq._defaults import GATES


def blobs(rng, n, d, k, *, spread=8.0, offset=0.0, min_gap=None, dtype=np.float64):
    """k Gaussian blobs of unit variance: (X (n, d) of ``dtype``, labels (n,) int64, centers
    (k, d) float64).

    Centers are ``spread`` times standard normal draws plus ``offset`` (a large offset puts the
    data far from the origin, where float32 arithmetic loses digits). With ``min_gap`` the
    centers are drawn uniformly in [-25, 25]^d instead, until every pair is at least that far
    apart (well-separated clusters whose true k any sound rule recovers).
    """
    if min_gap is None:
        centers = rng.standard_normal((k, d)) * spread + offset
    else:
        while True:
            centers = rng.uniform(-25, 25, (k, d)) + offset
            gaps = np.sqrt(((centers[:, None] - centers[None]) ** 2).sum(-1))
            if k == 1 or gaps[np.triu_indices(k, 1)].min() >= min_gap:
                break
    labels = rng.integers(0, k, n)
    X = centers[labels] + rng.standard_normal((n, d))
    return X.astype(dtype), labels, centers


def sqdist(X, C):
    """(n, k) float64 squared Euclidean distances, summed from differences."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)


def nearest(X, C):
    """(labels (n,) int64, the lowest index on ties; squared distances (n,) float64)."""
    D = sqdist(X, C)
    labels = D.argmin(axis=1)
    return labels, D[np.arange(D.shape[0]), labels]


def lloyd_step(X, C, w=None):
    """One Lloyd iteration: (labels of X for C, new centers (the weighted means; a cluster
    without weight keeps its center), inertia Σ w·d² for C)."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    labels, d2 = nearest(X, C)
    new = C.copy()
    for j in range(C.shape[0]):
        members = labels == j
        if w[members].sum() > 0:
            new[j] = np.average(X[members], axis=0, weights=w[members])
    return labels, new, float((w * d2).sum())


def lloyd(X, C, w=None, n_iter=1):
    """``n_iter`` Lloyd iterations from C (no empty clusters expected), then the assignment to
    the final centers: (labels, centers, inertia)."""
    for _ in range(n_iter):
        _, C, _ = lloyd_step(X, C, w)
    labels, _, inertia = lloyd_step(X, C, w)
    return labels, np.asarray(C, dtype=np.float64), inertia


def silhouette(X, labels):
    """(n,) silhouette coefficients from the full n x n distance matrix (scikit-learn's
    conventions: 0 for a sample alone in its cluster and where a = b = 0)."""
    D = np.sqrt(sqdist(X, X))
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    k = codes.max() + 1
    counts = np.bincount(codes, minlength=k)
    sums = np.stack([D[:, codes == j].sum(axis=1) for j in range(k)], axis=1)  # (n, k)
    own = counts[codes]
    a = sums[np.arange(len(codes)), codes] / np.maximum(own - 1, 1)
    means = sums / counts[None, :]
    means[np.arange(len(codes)), codes] = np.inf
    b = means.min(axis=1)
    top = np.maximum(a, b)
    ok = (own > 1) & (top > 0)
    return np.where(ok, (b - a) / np.where(ok, top, 1.0), 0.0)


def spherical_bic(X, labels, centers, weights=None):
    """BIC of a spherical Gaussian mixture with one shared variance fitted to a K-means result:
    the log-likelihood of X point by point, minus p/2 log N (p = (k - 1) + k d + 1)."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = centers.shape[0]
    w = np.ones(n) if weights is None else weights
    N = w.sum()
    sq = ((X - centers[labels]) ** 2).sum(1)
    sigma2 = (w * sq).sum() / (d * (N - k))
    counts = np.bincount(labels, weights=w, minlength=k)
    logpdf = (np.log(counts[labels] / N) - d / 2 * np.log(2 * np.pi * sigma2)
              - sq / (2 * sigma2))
    p = (k - 1) + k * d + 1
    return (w * logpdf).sum() - p / 2 * np.log(N)


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def recurrence(kind, xproj, w_hh, b_hh, h0, c0, lengths, reverse, nonlinearity, w_hr):
    """One layer and direction of an LSTM / GRU / Elman RNN in float64, one sequence and one
    step at a time, in torch's gate order and layout.

    xproj (T, B, G·H) = x @ W_ih.T + b_ih; w_hh (G·H, HO); b_hh (G·H,); h0 (B, HO) and c0 (B, H)
    or None (zeros); lengths (B,): sequence b runs over t < lengths[b] (backwards with
    ``reverse``) and its padding outputs are 0; w_hr (HO, H) the LSTM projection or None.
    Returns (out (T, B, HO), h_n (B, HO), c_n (B, H) for an LSTM else None).
    """
    xproj, w_hh, b_hh = (np.asarray(a, np.float64) for a in (xproj, w_hh, b_hh))
    T, B, _ = xproj.shape
    H = b_hh.shape[0] // GATES[kind]
    HO = w_hh.shape[1]
    h0 = np.zeros((B, HO)) if h0 is None else np.asarray(h0, np.float64)
    c0 = np.zeros((B, H)) if c0 is None else np.asarray(c0, np.float64)
    out = np.zeros((T, B, HO))
    h_n = np.zeros((B, HO))
    c_n = np.zeros((B, H))
    for b in range(B):
        h, c = h0[b].copy(), c0[b].copy()
        L = int(lengths[b])
        for t in (range(L - 1, -1, -1) if reverse else range(L)):
            x, gh = xproj[t, b], w_hh @ h + b_hh
            if kind == "lstm":
                a = x + gh
                i, f, g, o = (a[q * H:(q + 1) * H] for q in range(4))
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                if w_hr is not None:
                    h = np.asarray(w_hr, np.float64) @ h
            elif kind == "gru":
                r = _sigmoid(x[:H] + gh[:H])
                z = _sigmoid(x[H:2 * H] + gh[H:2 * H])
                n = np.tanh(x[2 * H:] + r * gh[2 * H:])
                h = (1 - z) * n + z * h
            else:
                a = x + gh
                h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
            out[t, b] = h
        h_n[b], c_n[b] = h, c
    return out, h_n, (c_n if kind == "lstm" else None)
