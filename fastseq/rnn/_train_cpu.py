"""Numba CPU kernels: the training forward of one LSTM / GRU / Elman-RNN layer in one direction.

The same recurrence as ``_recurrence_cpu`` (same gate math, the same recurrent product, the batch
cut into one slice per worker), but every step also writes what the backward pass reads, so that
backward recomputes nothing (the role of cuDNN's "reserve space"):

- ``act`` (T, B, G*H): the gate activations (LSTM i, f, g, o; GRU r, z, n); absent for the RNN,
  whose derivative comes from its output;
- ``hprev`` (T, B, H): the hidden state each step started from (for dW_hh = sum dgates^T h_prev);
- LSTM: ``cprev`` (T, B, H), the cell state each step started from, and ``tanh_c`` (T, B, H);
- GRU: ``hn`` (T, B, H), the recurrent part of the n gate ``W_hn h + b_hn`` (dr needs it).

Entries at t >= lengths[b] are zero (the arrays are pre-zeroed when some sequence is short), so
the large GEMMs after the backward loop can run over all T*B rows.

Kernels never validate: the caller (``fastseq.nn``) does.
"""

from __future__ import annotations

import contextlib

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH
from .._threads import n_workers, single_threaded_blas
from ._gate_math import sigmoid as _sigmoid, tanh as _tanh
from ._train_product import BLAS_MIN_ROWS, _recurrent_product, _slice_bounds, _steps


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def lstm_train_slice(xproj, w_hh_t, b_hh, h0, c0, lengths, reverse, start, stop, blas_min_rows,
                     out, h_n, c_n, act, hprev, cprev, tanh_c):
    """LSTM forward of batch rows start..stop keeping its reserve. xproj (T, B, 4H) is
    ``x @ W_ih.T + b_ih``; w_hh_t (H, 4H); b_hh (4H,); h0, c0 (B, H); lengths (B,) int64."""
    m = stop - start
    if m <= 0:
        return
    H = c0.shape[1]
    use_blas = m >= blas_min_rows
    h = h0[start:stop].copy()
    c = c0[start:stop].copy()
    gates = np.empty((m, 4 * H), dtype=xproj.dtype)
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
            a = act[t, start + b]
            a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            hp, cp, tc = hprev[t, start + b], cprev[t, start + b], tanh_c[t, start + b]
            hb, cb, o = h[b], c[b], out[t, start + b]
            for j in range(H):
                gi = _sigmoid(x_i[j] + g_i[j] + e_i[j])
                gf = _sigmoid(x_f[j] + g_f[j] + e_f[j])
                gg = _tanh(x_g[j] + g_g[j] + e_g[j])
                go = _sigmoid(x_o[j] + g_o[j] + e_o[j])
                a_i[j], a_f[j], a_g[j], a_o[j] = gi, gf, gg, go
                hp[j] = hb[j]
                cp[j] = cb[j]
                cj = gf * cb[j] + gi * gg
                tj = _tanh(cj)
                cb[j] = cj
                tc[j] = tj
                v = go * tj
                hb[j] = v
                o[j] = v
    h_n[start:stop] = h
    c_n[start:stop] = c


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def gru_train_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, start, stop, blas_min_rows,
                    out, h_n, act, hprev, hn):
    """GRU forward (n = tanh(x_n + r * (W_hn h + b_hn))) of rows start..stop keeping its
    reserve. xproj (T, B, 3H); w_hh_t (H, 3H); b_hh (3H,); h0 (B, H); lengths (B,) int64."""
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
            a = act[t, start + b]
            a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
            hp, hnb = hprev[t, start + b], hn[t, start + b]
            hb, o = h[b], out[t, start + b]
            for j in range(H):
                r = _sigmoid(x_r[j] + g_r[j] + e_r[j])
                z = _sigmoid(x_z[j] + g_z[j] + e_z[j])
                rec = g_n[j] + e_n[j]
                n = _tanh(x_n[j] + r * rec)
                a_r[j], a_z[j], a_n[j] = r, z, n
                hnb[j] = rec
                hp[j] = hb[j]
                v = (one - z) * n + z * hb[j]
                hb[j] = v
                o[j] = v
    h_n[start:stop] = h


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def rnn_train_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, start, stop, blas_min_rows,
                    out, h_n, hprev):
    """Elman forward h' = act(x + W_hh h + b_hh) of rows start..stop keeping h_prev. xproj
    (T, B, H); w_hh_t (H, H); b_hh (H,); h0 (B, H); lengths (B,) int64."""
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
            hp, hb, o = hprev[t, start + b], h[b], out[t, start + b]
            for j in range(H):
                hp[j] = hb[j]
                a = x[j] + g[j] + extra[j]
                if relu:
                    v = zero if a < zero else a  # max(a, 0) that keeps NaN
                else:
                    v = _tanh(a)
                hb[j] = v
                o[j] = v
    h_n[start:stop] = h


@njit(parallel=True, cache=True)
def lstm_train_parallel(xproj, w_hh_t, b_hh, h0, c0, lengths, reverse, n_slices, blas_min_rows,
                        out, h_n, c_n, act, hprev, cprev, tanh_c):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, xproj.shape[1], n_slices)
        lstm_train_slice(xproj, w_hh_t, b_hh, h0, c0, lengths, reverse, start, stop,
                         blas_min_rows, out, h_n, c_n, act, hprev, cprev, tanh_c)


@njit(parallel=True, cache=True)
def gru_train_parallel(xproj, w_hh_t, b_hh, h0, lengths, reverse, n_slices, blas_min_rows, out,
                       h_n, act, hprev, hn):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, xproj.shape[1], n_slices)
        gru_train_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, start, stop, blas_min_rows,
                        out, h_n, act, hprev, hn)


@njit(parallel=True, cache=True)
def rnn_train_parallel(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, n_slices, blas_min_rows,
                       out, h_n, hprev):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, xproj.shape[1], n_slices)
        rnn_train_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, start, stop,
                        blas_min_rows, out, h_n, hprev)


# A parallel launch costs tens of microseconds (milliseconds on a loaded machine, waiting for the
# workers to be scheduled): slices get at least this many multiply-adds of recurrent product per
# step, else the call runs in the calling thread.
PARALLEL_MIN_MACS = 32768


def slices_for(batch: int, macs_per_row: int):
    """(batch slices, BLAS context) of a call over ``batch`` rows whose recurrent product costs
    ``macs_per_row`` per row and step: one slice per Numba worker (each with at least
    ``PARALLEL_MIN_MACS`` of work per step), BLAS held to one thread when the slices use it."""
    rows = max(1, -(-PARALLEL_MIN_MACS // max(1, macs_per_row)))
    n_slices = max(1, min(batch // rows, n_workers()))
    blas = -(-batch // n_slices) >= BLAS_MIN_ROWS
    return n_slices, (single_threaded_blas() if blas else contextlib.nullcontext())


def train_forward_cpu(kind, xproj, w_hh, b_hh, h0, c0, lengths, reverse=False, relu=False):
    """One layer's recurrence in one direction, keeping the reserve for :func:`backward_cpu`.

    Parameters
    ----------
    kind : "lstm" | "gru" | "rnn".
    xproj : (T, B, G*H) C-contiguous float32/float64, ``x @ W_ih.T + b_ih`` (G = 4 / 3 / 1).
    w_hh : (G*H, H) recurrent weight; b_hh : (G*H,) (zeros without bias); same dtype.
    h0 : (B, H); c0 : (B, H) for lstm, else None.
    lengths : (B,) int64 in 0..T (T for every row when all sequences are full length).
    reverse : the reverse direction of row b runs t = lengths[b]-1 down to 0.
    relu : rnn only: relu instead of tanh.

    Returns
    -------
    out (T, B, H) (zero at t >= lengths[b]), h_n (B, H), c_n (B, H) or None, and the reserve: a
    dict of the arrays named in the module docstring.
    """
    T, B, GH = xproj.shape
    H = h0.shape[1]
    dtype = xproj.dtype
    w_hh_t = np.ascontiguousarray(w_hh.T)
    full = B == 0 or int(lengths.min()) == T
    alloc = np.empty if full else np.zeros
    out = alloc((T, B, H), dtype=dtype)
    h_n = np.empty((B, H), dtype=dtype)
    c_n = None
    reserve = {"hprev": alloc((T, B, H), dtype=dtype)}
    n_slices, blas = slices_for(B, GH * H)
    one = n_slices == 1  # in the calling thread: no parallel launch
    with blas:
        if kind == "lstm":
            c_n = np.empty((B, H), dtype=dtype)
            reserve.update(act=alloc((T, B, GH), dtype=dtype), cprev=alloc((T, B, H), dtype=dtype),
                           tanh_c=alloc((T, B, H), dtype=dtype))
            tail = (out, h_n, c_n, reserve["act"], reserve["hprev"], reserve["cprev"],
                    reserve["tanh_c"])
            if one:
                lstm_train_slice(xproj, w_hh_t, b_hh, h0, c0, lengths, reverse, 0, B,
                                 BLAS_MIN_ROWS, *tail)
            else:
                lstm_train_parallel(xproj, w_hh_t, b_hh, h0, c0, lengths, reverse, n_slices,
                                    BLAS_MIN_ROWS, *tail)
        elif kind == "gru":
            reserve.update(act=alloc((T, B, GH), dtype=dtype), hn=alloc((T, B, H), dtype=dtype))
            tail = (out, h_n, reserve["act"], reserve["hprev"], reserve["hn"])
            if one:
                gru_train_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, 0, B, BLAS_MIN_ROWS,
                                *tail)
            else:
                gru_train_parallel(xproj, w_hh_t, b_hh, h0, lengths, reverse, n_slices,
                                   BLAS_MIN_ROWS, *tail)
        elif one:
            rnn_train_slice(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, 0, B, BLAS_MIN_ROWS,
                            out, h_n, reserve["hprev"])
        else:
            rnn_train_parallel(xproj, w_hh_t, b_hh, h0, lengths, reverse, relu, n_slices,
                               BLAS_MIN_ROWS, out, h_n, reserve["hprev"])
    return out, h_n, c_n, reserve
