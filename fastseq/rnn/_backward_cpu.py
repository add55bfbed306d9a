"""Numba CPU kernels: backpropagation through time of one LSTM / GRU / Elman-RNN layer in one
direction, from the reserve that ``_train_cpu`` kept.

Per batch slice (one per worker, sequences are independent) the time loop runs in reverse: each
step adds the output gradient to the carried state gradient, computes every gate's derivative in
one fused loop, and takes the recurrent product ``dgates @ W_hh`` (the same product routine as the
forward, over the (G*H, H) weight). Nothing else happens in the loop: the kernels write the gate
gradients of every step, and the caller gets dW_ih, dW_hh, both biases and dx from a few large
GEMMs over all T*B rows afterwards.

Variable lengths: row b takes part in step s only while s < lengths[b], so the gradient of h_n
(and c_n) enters at the row's own last step and nothing flows through the padding; the gate
gradients at t >= lengths[b] stay zero.

Kernels never validate: the caller does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH
from ._train_product import BLAS_MIN_ROWS, _recurrent_product, _slice_bounds, _steps
from ._train_cpu import slices_for


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _add_product(dgs, w_hh, zero_bias, rec, use_blas, dh, lengths, start, step):
    """dh[b] += dgs[b] @ w_hh for the rows active at ``step`` (dgs is zero for the others)."""
    _recurrent_product(dgs, w_hh, zero_bias, rec, use_blas)
    for b in range(dgs.shape[0]):
        if step < lengths[start + b]:
            dhb, rb = dh[b], rec[b]
            for j in range(dh.shape[1]):
                dhb[j] += rb[j]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def lstm_backward_slice(dout, dh_n, dc_n, w_hh, act, cprev, tanh_c, lengths, reverse, start, stop,
                        blas_min_rows, dgates, dh0, dc0):
    """BPTT of LSTM rows start..stop. dout (T, B, H) and dh_n, dc_n (B, H) are the incoming
    gradients; w_hh (4H, H) C-contiguous; act (T, B, 4H), cprev, tanh_c (T, B, H) the reserve.
    Writes the pre-activation gate gradients dgates[:, start:stop] (T, B, 4H) and dh0, dc0."""
    m = stop - start
    if m <= 0:
        return
    H = dh_n.shape[1]
    one = dout.dtype.type(1)
    use_blas = m >= blas_min_rows
    dh = dh_n[start:stop].copy()
    dc = dc_n[start:stop].copy()
    dgs = np.zeros((m, 4 * H), dtype=dout.dtype)
    rec = np.empty((m, H), dtype=dout.dtype)
    zero_bias = np.zeros(H, dtype=dout.dtype)
    for step in range(_steps(lengths, start, stop) - 1, -1, -1):
        for b in range(m):
            L = lengths[start + b]
            d = dgs[b]
            if step >= L:
                d[:] = 0
                continue
            t = L - 1 - step if reverse else step
            a = act[t, start + b]
            a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            d_i, d_f, d_g, d_o = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:]
            cp, tc, do = cprev[t, start + b], tanh_c[t, start + b], dout[t, start + b]
            dhb, dcb = dh[b], dc[b]
            for j in range(H):
                gi, gf, gg, go, tj = a_i[j], a_f[j], a_g[j], a_o[j], tc[j]
                dhj = dhb[j] + do[j]
                dcj = dcb[j] + dhj * go * (one - tj * tj)
                d_i[j] = dcj * gg * gi * (one - gi)
                d_f[j] = dcj * cp[j] * gf * (one - gf)
                d_g[j] = dcj * gi * (one - gg * gg)
                d_o[j] = dhj * tj * go * (one - go)
                dcb[j] = dcj * gf
                dhb[j] = 0
            dgates[t, start + b] = d
        _add_product(dgs, w_hh, zero_bias, rec, use_blas, dh, lengths, start, step)
    dh0[start:stop] = dh
    dc0[start:stop] = dc


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def gru_backward_slice(dout, dh_n, w_hh, act, hprev, hn, lengths, reverse, start, stop,
                       blas_min_rows, dxgates, dhgates, dh0):
    """BPTT of GRU rows start..stop. dout (T, B, H), dh_n (B, H); w_hh (3H, H); act (T, B, 3H),
    hprev, hn (T, B, H) the reserve. Writes dxgates (the gradient of ``x @ W_ih.T + b_ih``) and
    dhgates (of ``W_hh h + b_hh``; they differ in the n block, scaled by r), both (T, B, 3H), and
    dh0."""
    m = stop - start
    if m <= 0:
        return
    H = dh_n.shape[1]
    one = dout.dtype.type(1)
    use_blas = m >= blas_min_rows
    dh = dh_n[start:stop].copy()
    dgs = np.zeros((m, 3 * H), dtype=dout.dtype)
    rec = np.empty((m, H), dtype=dout.dtype)
    zero_bias = np.zeros(H, dtype=dout.dtype)
    for step in range(_steps(lengths, start, stop) - 1, -1, -1):
        for b in range(m):
            L = lengths[start + b]
            d = dgs[b]
            if step >= L:
                d[:] = 0
                continue
            t = L - 1 - step if reverse else step
            a = act[t, start + b]
            a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
            d_r, d_z, d_n = d[:H], d[H:2 * H], d[2 * H:]
            dx = dxgates[t, start + b]
            dx_n = dx[2 * H:]
            hp, hnb, do, dhb = hprev[t, start + b], hn[t, start + b], dout[t, start + b], dh[b]
            for j in range(H):
                r, z, n = a_r[j], a_z[j], a_n[j]
                dhj = dhb[j] + do[j]
                dnp = dhj * (one - z) * (one - n * n)
                d_r[j] = dnp * hnb[j] * r * (one - r)
                d_z[j] = dhj * (hp[j] - n) * z * (one - z)
                dx_n[j] = dnp
                d_n[j] = dnp * r
                dhb[j] = dhj * z
            dx[:2 * H] = d[:2 * H]
            dhgates[t, start + b] = d
        _add_product(dgs, w_hh, zero_bias, rec, use_blas, dh, lengths, start, step)
    dh0[start:stop] = dh


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def rnn_backward_slice(dout, dh_n, w_hh, out, lengths, reverse, relu, start, stop, blas_min_rows,
                       dgates, dh0):
    """BPTT of Elman rows start..stop. dout (T, B, H), dh_n (B, H); w_hh (H, H); out (T, B, H)
    the forward's output (its derivative: 1 - h^2 for tanh, h > 0 for relu). Writes dgates
    (T, B, H) and dh0."""
    m = stop - start
    if m <= 0:
        return
    H = dh_n.shape[1]
    one = dout.dtype.type(1)
    zero = dout.dtype.type(0)
    use_blas = m >= blas_min_rows
    dh = dh_n[start:stop].copy()
    dgs = np.zeros((m, H), dtype=dout.dtype)
    rec = np.empty((m, H), dtype=dout.dtype)
    zero_bias = np.zeros(H, dtype=dout.dtype)
    for step in range(_steps(lengths, start, stop) - 1, -1, -1):
        for b in range(m):
            L = lengths[start + b]
            d = dgs[b]
            if step >= L:
                d[:] = 0
                continue
            t = L - 1 - step if reverse else step
            hb, do, dhb = out[t, start + b], dout[t, start + b], dh[b]
            for j in range(H):
                dhj = dhb[j] + do[j]
                v = hb[j]
                if relu:
                    d[j] = dhj if v > zero else zero
                else:
                    d[j] = dhj * (one - v * v)
                dhb[j] = 0
            dgates[t, start + b] = d
        _add_product(dgs, w_hh, zero_bias, rec, use_blas, dh, lengths, start, step)
    dh0[start:stop] = dh


@njit(parallel=True, cache=True)
def lstm_backward_parallel(dout, dh_n, dc_n, w_hh, act, cprev, tanh_c, lengths, reverse, n_slices,
                           blas_min_rows, dgates, dh0, dc0):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, dout.shape[1], n_slices)
        lstm_backward_slice(dout, dh_n, dc_n, w_hh, act, cprev, tanh_c, lengths, reverse, start,
                            stop, blas_min_rows, dgates, dh0, dc0)


@njit(parallel=True, cache=True)
def gru_backward_parallel(dout, dh_n, w_hh, act, hprev, hn, lengths, reverse, n_slices,
                          blas_min_rows, dxgates, dhgates, dh0):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, dout.shape[1], n_slices)
        gru_backward_slice(dout, dh_n, w_hh, act, hprev, hn, lengths, reverse, start, stop,
                           blas_min_rows, dxgates, dhgates, dh0)


@njit(parallel=True, cache=True)
def rnn_backward_parallel(dout, dh_n, w_hh, out, lengths, reverse, relu, n_slices, blas_min_rows,
                          dgates, dh0):
    for s in prange(n_slices):
        start, stop = _slice_bounds(s, dout.shape[1], n_slices)
        rnn_backward_slice(dout, dh_n, w_hh, out, lengths, reverse, relu, start, stop,
                           blas_min_rows, dgates, dh0)


def backward_cpu(kind, dout, dh_n, dc_n, w_hh, out, reserve, lengths, reverse=False, relu=False):
    """The reverse time loop of one layer direction (the backward of ``train_forward_cpu``).

    Parameters
    ----------
    dout : (T, B, H) gradient of the output (entries at t >= lengths[b] are ignored);
    dh_n : (B, H) gradient of h_n; dc_n : (B, H) of c_n (lstm), else None. C-contiguous, the
    forward's dtype (use zeros for a gradient that is absent).
    w_hh : (G*H, H) C-contiguous; out and reserve: what ``train_forward_cpu`` returned.

    Returns
    -------
    dxgates, dhgates (T, B, G*H): the gradients of ``x @ W_ih.T + b_ih`` and of
    ``h_prev @ W_hh.T + b_hh`` per step (the same array except for the GRU), zero at t >=
    lengths[b]; dh0 (B, H); dc0 (B, H) or None.
    """
    T, B, H = dout.shape
    GH = w_hh.shape[0]
    dtype = dout.dtype
    full = B == 0 or int(lengths.min()) == T
    alloc = np.empty if full else np.zeros
    dgates = alloc((T, B, GH), dtype=dtype)
    dh0 = np.empty((B, H), dtype=dtype)
    dc0 = None
    dhgates = dgates
    n_slices, blas = slices_for(B, GH * H)
    one = n_slices == 1  # in the calling thread: no parallel launch
    with blas:
        if kind == "lstm":
            dc0 = np.empty((B, H), dtype=dtype)
            head = (dout, dh_n, dc_n, w_hh, reserve["act"], reserve["cprev"], reserve["tanh_c"],
                    lengths, reverse)
            if one:
                lstm_backward_slice(*head, 0, B, BLAS_MIN_ROWS, dgates, dh0, dc0)
            else:
                lstm_backward_parallel(*head, n_slices, BLAS_MIN_ROWS, dgates, dh0, dc0)
        elif kind == "gru":
            dhgates = alloc((T, B, GH), dtype=dtype)
            head = (dout, dh_n, w_hh, reserve["act"], reserve["hprev"], reserve["hn"], lengths,
                    reverse)
            if one:
                gru_backward_slice(*head, 0, B, BLAS_MIN_ROWS, dgates, dhgates, dh0)
            else:
                gru_backward_parallel(*head, n_slices, BLAS_MIN_ROWS, dgates, dhgates, dh0)
        elif one:
            rnn_backward_slice(dout, dh_n, w_hh, out, lengths, reverse, relu, 0, B,
                               BLAS_MIN_ROWS, dgates, dh0)
        else:
            rnn_backward_parallel(dout, dh_n, w_hh, out, lengths, reverse, relu, n_slices,
                                  BLAS_MIN_ROWS, dgates, dh0)
    return dgates, dhgates, dh0, dc0
