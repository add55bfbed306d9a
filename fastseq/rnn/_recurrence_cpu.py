"""Numba CPU kernels: the recurrence of one LSTM / GRU / Elman-RNN layer in one direction.

The twin of ``_recurrence_cuda.py``: :func:`recurrence_cpu` takes the same arguments and returns
the same arrays as ``recurrence_cuda``. The input projection ``x @ W_ih.T + b_ih`` of every time
step is done before (one GEMM, by the driver); here one ``@njit`` call runs all T steps:

- the batch is split into one slice per Numba worker, and each worker runs the whole sequence of
  its slice (sequences are independent), so there is no synchronisation between steps;
- per step, the recurrent product ``h @ W_hh.T`` of the slice is either a hand-written loop over
  the pre-transposed (H_in, G*H) weight, which LLVM vectorises (small slices: a BLAS call costs
  more than the product), or ``np.dot`` (BLAS held to one thread: :func:`single_threaded_blas`);
- the gate arithmetic and the state update are one fused loop; no array is allocated per step.

:func:`project` does the driver's input projection on the same workers (row blocks, one
single-threaded GEMM each), so one threading system owns the cores for the whole layer call.

Activations: in float32, tanh is a clamped rational approximation (odd over even polynomial, as
Eigen's) that vectorises, with max absolute error 3.4e-7, and sigmoid(x) = 0.5 + 0.5 tanh(x / 2).
In float64 they are the exact ``math.tanh`` / ``math.exp`` (scalar library calls). Both keep NaN:
a NaN in a sequence's input makes that sequence's outputs NaN, as in torch, and no other.

Kernels never validate: the driver does.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .._defaults import FASTMATH
from .._threads import single_threaded_blas

KINDS = ("lstm", "gru", "rnn")

# Slices of at least this many rows use BLAS for the recurrent product (measured on the 2-core
# AVX-512 machine: the hand loop wins below it).
BLAS_MIN_ROWS = 4
# The input projection is cut into row blocks of at least this many rows, one per worker.
PROJECT_MIN_ROWS = 64

# Eigen's float tanh: clamp, then x * P(x^2) / Q(x^2).
_TANH_CLAMP = 7.90531110763549805
_A1, _A3, _A5, _A7 = 4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08
_A9, _A11, _A13 = -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16
_B0, _B2, _B4, _B6 = 4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06


def _tanh(x):
    """tanh: the rational approximation in float32, math.tanh in float64 (Numba only)."""
    raise NotImplementedError("compiled by Numba only")


def _sigmoid(x):
    """sigmoid: 0.5 + 0.5 tanh(x/2) in float32 (vectorises), 1 / (1 + exp(-x)) in float64."""
    raise NotImplementedError("compiled by Numba only")


@overload(_tanh, fastmath=FASTMATH)
def _ov_tanh(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        f = np.float32
        c, a1, a3, a5, a7 = f(_TANH_CLAMP), f(_A1), f(_A3), f(_A5), f(_A7)
        a9, a11, a13 = f(_A9), f(_A11), f(_A13)
        b0, b2, b4, b6 = f(_B0), f(_B2), f(_B4), f(_B6)

        def impl(x):
            # NaN passes the clamp (a comparison with NaN is False); +-Inf become +-c
            y = math.copysign(c, x) if abs(x) > c else x
            y2 = y * y
            p = ((((((a13 * y2 + a11) * y2 + a9) * y2 + a7) * y2 + a5) * y2 + a3) * y2 + a1) * y
            q = ((b6 * y2 + b4) * y2 + b2) * y2 + b0
            return p / q
        return impl

    def impl(x):
        return math.tanh(x)
    return impl


@overload(_sigmoid, fastmath=FASTMATH)
def _ov_sigmoid(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        half = np.float32(0.5)

        def impl(x):
            return half + half * _tanh(half * x)
        return impl

    def impl(x):
        return 1.0 / (1.0 + math.exp(-x))
    return impl


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _recurrent_product(h, w_t, bias, gates, use_blas):
    """gates[b, :] = bias + h[b, :] @ w_t for every row b (w_t is (H_in, G*H), C-contiguous).

    With ``use_blas`` the bias is NOT added (np.dot writes gates): the gate loops add it.
    """
    if use_blas:
        np.dot(h, w_t, gates)
        return
    n_in = w_t.shape[0]
    width = w_t.shape[1]
    n4 = n_in - n_in % 4
    for b in range(h.shape[0]):
        g = gates[b]
        hb = h[b]
        for j in range(width):
            g[j] = bias[j]
        # four weight rows per pass over g: a quarter of the loads and stores of g (the loop is
        # bound by them, not by the FMAs)
        for k in range(0, n4, 4):
            h0, h1, h2, h3 = hb[k], hb[k + 1], hb[k + 2], hb[k + 3]
            w0, w1, w2, w3 = w_t[k], w_t[k + 1], w_t[k + 2], w_t[k + 3]
            for j in range(width):
                g[j] += (h0 * w0[j] + h1 * w1[j]) + (h2 * w2[j] + h3 * w3[j])
        for k in range(n4, n_in):
            hk = hb[k]
            wk = w_t[k]
            for j in range(width):
                g[j] += hk * wk[j]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _project(hc, w_hr_t, h, b):
    """h[b, :] = hc @ w_hr_t (LSTM projection; w_hr_t is (H, P))."""
    p = w_hr_t.shape[1]
    for j in range(p):
        h[b, j] = 0
    for k in range(w_hr_t.shape[0]):
        v = hc[k]
        wk = w_hr_t[k]
        for j in range(p):
            h[b, j] += v * wk[j]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _slice_bounds(s, n_rows, n_slices):
    per = (n_rows + n_slices - 1) // n_slices
    start = min(n_rows, s * per)
    return start, min(n_rows, start + per)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _steps(lengths, start, stop):
    steps = 0
    for b in range(start, stop):
        steps = max(steps, lengths[b])
    return steps


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def lstm_slice(xproj, w_hh_t, b_hh, w_hr_t, has_proj, h0, c0, lengths, reverse, start, stop,
               blas_min_rows, out, h_n, c_n):
    """LSTM recurrence (gates i, f, g, o) of batch rows start..stop over all their steps.

    Shapes: xproj (T, B, 4H); w_hh_t (P, 4H) with P the state width (proj_size or H); b_hh (4H,);
    w_hr_t (H, P) (ignored unless has_proj); h0 (B, P); c0 (B, H); lengths (B,) int64.
    Writes out[:, start:stop] (rows past a sequence's end are left alone: pre-zeroed by the caller),
    h_n[start:stop] (B, P) and c_n[start:stop] (B, H).
    """
    m = stop - start
    if m <= 0:
        return
    H = c0.shape[1]
    P = h0.shape[1]
    use_blas = m >= blas_min_rows
    h = h0[start:stop].copy()
    c = c0[start:stop].copy()
    gates = np.empty((m, 4 * H), dtype=xproj.dtype)
    hc = np.empty(H, dtype=xproj.dtype)
    bias = np.zeros_like(b_hh) if use_blas else b_hh   # added by the product loop
    extra = b_hh if use_blas else np.zeros_like(b_hh)  # added by the gate loop
    e_i, e_f, e_g, e_o = extra[:H], extra[H:2 * H], extra[2 * H:3 * H], extra[3 * H:]
    for step in range(_steps(lengths, start, stop)):
        _recurrent_product(h, w_hh_t, bias, gates, use_blas)
        for b in range(m):
            L = lengths[start + b]
            if step >= L:
                continue
            t = L - 1 - step if reverse else step
            x = xproj[t, start + b]
            x_i, x_f, x_g, x_o = x[:H], x[H:2 * H], x[2 * H:3 * H], x[3 * H:]
            g = gates[b]
            g_i, g_f, g_g, g_o = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
            cb = c[b]
            for j in range(H):
                gi = _sigmoid(x_i[j] + g_i[j] + e_i[j])
                gf = _sigmoid(x_f[j] + g_f[j] + e_f[j])
                gg = _tanh(x_g[j] + g_g[j] + e_g[j])
                go = _sigmoid(x_o[j] + g_o[j] + e_o[j])
                cj = gf * cb[j] + gi * gg
                cb[j] = cj
                hc[j] = go * _tanh(cj)
            hb = h[b]
            if has_proj:
                _project(hc, w_hr_t, h, b)
            else:
                for j in range(H):
                    hb[j] = hc[j]
            o = out[t, start + b]
            for j in range(P):
                o[j] = hb[j]
    h_n[start:stop] = h
    c_n[start:stop] = c


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def gru_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, start, stop, blas_min_rows, out, h_n):
    """GRU recurrence (gates r, z, n; n = tanh(x_n + r * (W_hn h + b_hn))) of batch rows
    start..stop. Shapes: xproj (T, B, 3H); w_hh_t (H, 3H); b_hh (3H,); h0 (B, H); lengths (B,)
    int64. Writes out[:, start:stop] (pre-zeroed) and h_n[start:stop]."""
    m = stop - start
    if m <= 0:
        return
    H = h0.shape[1]
    one = xproj.dtype.type(1)
    use_blas = m >= blas_min_rows
    h = h0[start:stop].copy()
    gates = np.empty((m, 3 * H), dtype=xproj.dtype)
    bias = np.zeros_like(b_hh) if use_blas else b_hh
    extra = b_hh if use_blas else np.zeros_like(b_hh)
    e_r, e_z, e_n = extra[:H], extra[H:2 * H], extra[2 * H:]
    for step in range(_steps(lengths, start, stop)):
        _recurrent_product(h, w_hh_t, bias, gates, use_blas)
        for b in range(m):
            L = lengths[start + b]
            if step >= L:
                continue
            t = L - 1 - step if reverse else step
            x = xproj[t, start + b]
            x_r, x_z, x_n = x[:H], x[H:2 * H], x[2 * H:]
            g = gates[b]
            g_r, g_z, g_n = g[:H], g[H:2 * H], g[2 * H:]
            hb = h[b]
            o = out[t, start + b]
            for j in range(H):
                r = _sigmoid(x_r[j] + g_r[j] + e_r[j])
                z = _sigmoid(x_z[j] + g_z[j] + e_z[j])
                n = _tanh(x_n[j] + r * (g_n[j] + e_n[j]))
                v = (one - z) * n + z * hb[j]
                hb[j] = v
                o[j] = v
    h_n[start:stop] = h


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def rnn_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, start, stop, blas_min_rows, out,
              h_n):
    """Elman recurrence h' = act(x + W_hh h + b_hh), act tanh or relu, of batch rows start..stop.
    Shapes: xproj (T, B, H); w_hh_t (H, H); b_hh (H,); h0 (B, H); lengths (B,) int64. Writes
    out[:, start:stop] (pre-zeroed) and h_n[start:stop]."""
    m = stop - start
    if m <= 0:
        return
    H = h0.shape[1]
    zero = xproj.dtype.type(0)
    use_blas = m >= blas_min_rows
    h = h0[start:stop].copy()
    gates = np.empty((m, H), dtype=xproj.dtype)
    bias = np.zeros_like(b_hh) if use_blas else b_hh
    extra = b_hh if use_blas else np.zeros_like(b_hh)
    for step in range(_steps(lengths, start, stop)):
        _recurrent_product(h, w_hh_t, bias, gates, use_blas)
        for b in range(m):
            L = lengths[start + b]
            if step >= L:
                continue
            t = L - 1 - step if reverse else step
            x = xproj[t, start + b]
            g = gates[b]
            hb = h[b]
            o = out[t, start + b]
            if relu:
                for j in range(H):
                    a = x[j] + g[j] + extra[j]
                    v = zero if a < zero else a  # max(a, 0) that keeps NaN
                    hb[j] = v
                    o[j] = v
            else:
                for j in range(H):
                    v = _tanh(x[j] + g[j] + extra[j])
                    hb[j] = v
                    o[j] = v
    h_n[start:stop] = h


# One worker per batch slice, each running its slice's whole sequence: no per-step synchronisation.
@njit(parallel=True, cache=True)
def lstm_parallel(xproj, w_hh_t, b_hh, w_hr_t, has_proj, h0, c0, lengths, reverse, n_slices,
                  blas_min_rows, out, h_n, c_n):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, xproj.shape[1], n_slices)
        lstm_slice(xproj, w_hh_t, b_hh, w_hr_t, has_proj, h0, c0, lengths, reverse, start, stop,
                   blas_min_rows, out, h_n, c_n)


@njit(parallel=True, cache=True)
def gru_parallel(xproj, w_hh_t, b_hh, h0, lengths, reverse, n_slices, blas_min_rows, out, h_n):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, xproj.shape[1], n_slices)
        gru_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, start, stop, blas_min_rows, out, h_n)


@njit(parallel=True, cache=True)
def rnn_parallel(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, n_slices, blas_min_rows, out,
                 h_n):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, xproj.shape[1], n_slices)
        rnn_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, start, stop, blas_min_rows,
                  out, h_n)


@njit(parallel=True, cache=True)
def project_parallel(x, w, out, n_slices):
    """out = x @ w, rows cut into n_slices blocks, one single-threaded BLAS GEMM per worker.

    x (M, K), w (K, N), out (M, N), all C-contiguous. Used for the input projection so that the
    whole layer call runs on Numba's workers (the OpenMP pool torch also uses) instead of waking
    BLAS's own threads, which keep spinning after the call and slow whatever runs next.
    """
    M = x.shape[0]
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, M, n_slices)
        if stop > start:
            np.dot(x[start:stop], w, out[start:stop])


def project(x, w):
    """x @ w on Numba's workers (x (M, K), w (K, N) C-contiguous); call inside
    :func:`single_threaded_blas`."""
    from .._threads import n_workers

    n_slices = n_slices_for(x.shape[0] // PROJECT_MIN_ROWS, n_workers())
    if n_slices == 1:  # BLAS is held to one thread: numpy's matmul stays in this thread
        return x @ w
    out = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)
    project_parallel(x, w, out, n_slices)
    return out


def n_slices_for(batch: int, n_threads: int) -> int:
    """How many batch slices (one per worker) a call uses: one row per slice at the least."""
    return max(1, min(batch, n_threads))


def recurrence_cpu(kind, xproj, w_hh, b_hh, h0, c0, lengths, reverse, nonlinearity, w_hr):
    """Run one layer's recurrence in one direction over all time steps (the CPU twin of
    ``recurrence_cuda``).

    Parameters
    ----------
    kind : "lstm" | "gru" | "rnn".
    xproj : (T, B, G*H) C-contiguous float32/float64: ``x @ W_ih.T + b_ih`` for every step
        (b_hh not added). G is 4 / 3 / 1.
    w_hh : (G*H, H_in) recurrent weight, H_in = proj_size or H. A transposed view of a C-contiguous
        (H_in, G*H) array is used without a copy (the layers cache weights that way).
    b_hh : (G*H,) recurrent bias (zeros when the layer has no bias).
    h0 : (B, H_out) initial hidden state (H_out = proj_size or H); c0 : (B, H) for lstm, else None.
    lengths : (B,) int64, each in 1..T (every entry T for full-length sequences).
    reverse : bool; the reverse direction of sequence b runs t = lengths[b]-1 down to 0.
    nonlinearity : "tanh" | "relu" (rnn only; ignored otherwise).
    w_hr : (proj_size, H) LSTM projection weight, or None.

    Returns
    -------
    out : (T, B, H_out), zeros at t >= lengths[b]; h_n : (B, H_out); c_n : (B, H) for lstm, else
    None. Same dtype as xproj.

    The batch is cut into one slice per Numba thread (fewer for small B). A single slice runs in
    the calling thread (no parallel launch). Slices of ``BLAS_MIN_ROWS`` rows or more use BLAS for
    the recurrent product, with BLAS held to one thread (:func:`single_threaded_blas`: BLAS threads
    would fight the workers).
    """
    from .._threads import n_workers

    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    T, B, _ = xproj.shape
    dtype = xproj.dtype
    args = dict(
        xproj=np.ascontiguousarray(xproj),
        w_hh_t=np.ascontiguousarray(np.asarray(w_hh, dtype=dtype).T),
        b_hh=np.ascontiguousarray(b_hh, dtype=dtype),
        h0=np.ascontiguousarray(h0, dtype=dtype),
        lengths=np.ascontiguousarray(lengths, dtype=np.int64),
        reverse=bool(reverse),
    )
    h_out = args["h0"].shape[1]
    # every (t, b) is written when all sequences are full length; else the padding must be zero
    full = B == 0 or int(args["lengths"].min()) == T
    out = (np.empty if full else np.zeros)((T, B, h_out), dtype=dtype)
    h_n = np.empty((B, h_out), dtype=dtype)
    c_n = None
    if kind == "lstm":
        args["c0"] = np.ascontiguousarray(c0, dtype=dtype)
        c_n = np.empty_like(args["c0"])
        args["has_proj"] = w_hr is not None
        args["w_hr_t"] = (np.ascontiguousarray(np.asarray(w_hr, dtype=dtype).T) if w_hr is not None
                          else np.zeros((1, 1), dtype=dtype))
    elif kind == "rnn":
        args["relu"] = nonlinearity == "relu"
    n_slices = n_slices_for(B, n_workers())
    blas = -(-B // n_slices) >= BLAS_MIN_ROWS
    with single_threaded_blas() if blas else contextlib.nullcontext():
        _launch(kind, args, n_slices, out, h_n, c_n)
    return out, h_n, c_n


def _launch(kind, a, n_slices, out, h_n, c_n):
    B = a["xproj"].shape[1]
    if kind == "lstm":
        common = (a["xproj"], a["w_hh_t"], a["b_hh"], a["w_hr_t"], a["has_proj"], a["h0"], a["c0"],
                  a["lengths"], a["reverse"])
        if n_slices == 1:
            lstm_slice(*common, 0, B, BLAS_MIN_ROWS, out, h_n, c_n)
        else:
            lstm_parallel(*common, n_slices, BLAS_MIN_ROWS, out, h_n, c_n)
    elif kind == "gru":
        common = (a["xproj"], a["w_hh_t"], a["b_hh"], a["h0"], a["lengths"], a["reverse"])
        if n_slices == 1:
            gru_slice(*common, 0, B, BLAS_MIN_ROWS, out, h_n)
        else:
            gru_parallel(*common, n_slices, BLAS_MIN_ROWS, out, h_n)
    else:
        common = (a["xproj"], a["w_hh_t"], a["b_hh"], a["h0"], a["lengths"], a["reverse"],
                  a["relu"])
        if n_slices == 1:
            rnn_slice(*common, 0, B, BLAS_MIN_ROWS, out, h_n)
        else:
            rnn_parallel(*common, n_slices, BLAS_MIN_ROWS, out, h_n)
