"""Numba CPU kernels: the recurrence of one LSTM / GRU / Elman-RNN layer in one direction, over a
block of time steps.

The input projection ``x @ W_ih.T + b_ih`` of the block's steps is done before (one GEMM, by
:mod:`._stack_cpu`); one ``@njit`` call then runs the block's steps:

- the batch is split into one slice per Numba worker, and each worker runs its slice through all
  of the block's steps (sequences are independent), so there is no synchronisation between steps;
- per step, the recurrent product ``b_hh + h @ W_hh.T`` of the slice is :func:`packed_product`
  on the weights packed once per layer (no BLAS call, no re-packing, no lock shared by workers);
- the gate arithmetic and the state update are one fused, vectorised loop; nothing is allocated
  per step.

The state (h, c) lives in arrays that the caller carries from one block to the next, so the
projection never needs all T steps at once.

Determinism: slices start at multiples of ``ROW_GROUP`` rows (or hold only the batch's last
B % ROW_GROUP rows), so every row is summed the same way whatever the thread count, and outputs
are bit-identical from 1 to N threads.

Kernels never validate: the callers do.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH
from ._gate_math import sigmoid, tanh
from ._packed_product import ROW_GROUP, packed_product

KINDS = ("lstm", "gru", "rnn")


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def slice_bounds(s, n_rows, n_slices):
    """Rows start..stop of slice s: slices of ceil(n_rows / n_slices) rows, rounded up to a
    multiple of ROW_GROUP once there are that many rows (empty slices at the end are possible)."""
    per = (n_rows + n_slices - 1) // n_slices
    if n_rows >= ROW_GROUP:
        per += (-per) % ROW_GROUP
    start = min(n_rows, s * per)
    return start, min(n_rows, start + per)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _block_steps(lengths, start, stop, t0, n_block):
    """Time steps of the block [t0, t0 + n_block) that any row of the slice reaches."""
    longest = 0
    for b in range(start, stop):
        longest = max(longest, lengths[b])
    return max(0, min(n_block, longest - t0))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _local_tail(n_rows, start, m):
    """Where the one-at-a-time rows start within a slice (the batch's last n_rows % 4 rows)."""
    tail = n_rows - n_rows % ROW_GROUP
    return min(m, max(0, tail - start))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _project_row(hc, w_hr_t, hb):
    """hb[:P] = hc @ w_hr_t (LSTM projection; w_hr_t is (H, P))."""
    p = w_hr_t.shape[1]
    for j in range(p):
        hb[j] = 0
    for k in range(w_hr_t.shape[0]):
        v = hc[k]
        wk = w_hr_t[k]
        for j in range(p):
            hb[j] += v * wk[j]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def lstm_block(xproj, t0, panels, bias, w_hr_t, has_proj, h, c, lengths, reverse, start, stop,
               out):
    """LSTM (gates i, f, g, o) of batch rows start..stop over the steps t0 .. t0 + len(xproj) - 1.

    xproj (Tb, B, 4H): the block's input projections; panels, bias: the packed recurrent weight
    (:func:`pack_recurrent`); w_hr_t (H, P) projection (ignored unless has_proj); h (B, K) the
    hidden state in and out (its first P columns; K = P padded like the panels' rows, the padding
    zero); c (B, H) the cell state in and out; lengths (B,) int64; out (T, B, P), written at
    (t, b) for t < lengths[b] only. The reverse direction runs the block's steps backwards.
    """
    m = stop - start
    if m <= 0:
        return
    H = c.shape[1]
    P = out.shape[2]
    n = _block_steps(lengths, start, stop, t0, xproj.shape[0])
    tail = _local_tail(xproj.shape[1], start, m)
    gates = np.empty((m, bias.shape[0]), dtype=xproj.dtype)
    hc = np.empty(H, dtype=xproj.dtype)
    hs = h[start:stop]
    for i in range(n):
        t = t0 + (n - 1 - i if reverse else i)
        packed_product(hs, panels, bias, gates, tail)
        for b in range(m):
            if t >= lengths[start + b]:
                continue
            x = xproj[t - t0, start + b]
            g = gates[b]
            cb = c[start + b]
            for j in range(H):
                gi = sigmoid(x[j] + g[j])
                gf = sigmoid(x[H + j] + g[H + j])
                gg = tanh(x[2 * H + j] + g[2 * H + j])
                go = sigmoid(x[3 * H + j] + g[3 * H + j])
                cj = gf * cb[j] + gi * gg
                cb[j] = cj
                hc[j] = go * tanh(cj)
            hb = hs[b]
            if has_proj:
                _project_row(hc, w_hr_t, hb)
            else:
                for j in range(H):
                    hb[j] = hc[j]
            o = out[t, start + b]
            for j in range(P):
                o[j] = hb[j]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def gru_block(xproj, t0, panels, bias, h, lengths, reverse, start, stop, out):
    """GRU (gates r, z, n; n = tanh(x_n + r * (W_hn h + b_hn))) of batch rows start..stop over
    the block's steps. xproj (Tb, B, 3H); h (B, K) state in and out (first H columns); out
    (T, B, H). See :func:`lstm_block`."""
    m = stop - start
    if m <= 0:
        return
    H = out.shape[2]
    one = xproj.dtype.type(1)
    n = _block_steps(lengths, start, stop, t0, xproj.shape[0])
    tail = _local_tail(xproj.shape[1], start, m)
    gates = np.empty((m, bias.shape[0]), dtype=xproj.dtype)
    hs = h[start:stop]
    for i in range(n):
        t = t0 + (n - 1 - i if reverse else i)
        packed_product(hs, panels, bias, gates, tail)
        for b in range(m):
            if t >= lengths[start + b]:
                continue
            x = xproj[t - t0, start + b]
            g = gates[b]
            hb = hs[b]
            o = out[t, start + b]
            for j in range(H):
                r = sigmoid(x[j] + g[j])
                z = sigmoid(x[H + j] + g[H + j])
                nj = tanh(x[2 * H + j] + r * g[2 * H + j])
                v = (one - z) * nj + z * hb[j]
                hb[j] = v
                o[j] = v


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def rnn_block(xproj, t0, panels, bias, h, lengths, reverse, relu, start, stop, out):
    """Elman recurrence h' = act(x + W_hh h + b_hh), act tanh or relu, of batch rows start..stop
    over the block's steps. xproj (Tb, B, H); h (B, K); out (T, B, H). See :func:`lstm_block`."""
    m = stop - start
    if m <= 0:
        return
    H = out.shape[2]
    zero = xproj.dtype.type(0)
    n = _block_steps(lengths, start, stop, t0, xproj.shape[0])
    tail = _local_tail(xproj.shape[1], start, m)
    gates = np.empty((m, bias.shape[0]), dtype=xproj.dtype)
    hs = h[start:stop]
    for i in range(n):
        t = t0 + (n - 1 - i if reverse else i)
        packed_product(hs, panels, bias, gates, tail)
        for b in range(m):
            if t >= lengths[start + b]:
                continue
            x = xproj[t - t0, start + b]
            g = gates[b]
            hb = hs[b]
            o = out[t, start + b]
            if relu:
                for j in range(H):
                    a = x[j] + g[j]
                    v = zero if a < zero else a  # max(a, 0) that keeps NaN
                    hb[j] = v
                    o[j] = v
            else:
                for j in range(H):
                    v = tanh(x[j] + g[j])
                    hb[j] = v
                    o[j] = v


# One worker per batch slice, each running its slice through the block: no per-step barrier.
@njit(parallel=True, cache=True)
def lstm_parallel(xproj, t0, panels, bias, w_hr_t, has_proj, h, c, lengths, reverse, n_slices,
                  out):
    for s in prange(n_slices):
        start, stop = slice_bounds(s, xproj.shape[1], n_slices)
        lstm_block(xproj, t0, panels, bias, w_hr_t, has_proj, h, c, lengths, reverse, start,
                   stop, out)


@njit(parallel=True, cache=True)
def gru_parallel(xproj, t0, panels, bias, h, lengths, reverse, n_slices, out):
    for s in prange(n_slices):
        start, stop = slice_bounds(s, xproj.shape[1], n_slices)
        gru_block(xproj, t0, panels, bias, h, lengths, reverse, start, stop, out)


@njit(parallel=True, cache=True)
def rnn_parallel(xproj, t0, panels, bias, h, lengths, reverse, relu, n_slices, out):
    for s in prange(n_slices):
        start, stop = slice_bounds(s, xproj.shape[1], n_slices)
        rnn_block(xproj, t0, panels, bias, h, lengths, reverse, relu, start, stop, out)


@njit(parallel=True, cache=True)
def project_parallel(x, w, out, block_rows):
    """out = x @ w in fixed blocks of ``block_rows`` rows, one single-threaded GEMM each, on
    Numba's workers. x (M, K), w (K, N), out (M, N), C-contiguous. The blocks depend on M only,
    never on the thread count, so the result is the same for any number of threads."""
    M = x.shape[0]
    for s in prange((M + block_rows - 1) // block_rows):
        start = s * block_rows
        stop = min(M, start + block_rows)
        np.dot(x[start:stop], w, out[start:stop])


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def project_packed(x, panels, bias, out):
    """out[b] = bias + x[b] @ W on a packed weight (cells: one step, so no GEMM call is worth its
    overhead). x (B, I) any layout; panels, bias from :func:`pack_recurrent` of W_ih (N, I) and
    b_ih; out (B, n_panels * width)."""
    B, n_in = x.shape
    xp = np.zeros((B, panels.shape[1]), dtype=out.dtype)
    for b in range(B):
        for k in range(n_in):
            xp[b, k] = x[b, k]
    packed_product(xp, panels, bias, out, B - B % ROW_GROUP)


def n_slices_for(batch: int, n_threads: int) -> int:
    """How many batch slices (one per worker) a call uses: at least ROW_GROUP rows per slice
    (fewer only when the batch is smaller)."""
    return max(1, min(n_threads, -(-batch // ROW_GROUP) if batch >= ROW_GROUP else batch))


def run_block(kind, xproj, t0, unit, h, c, lengths, reverse, relu, out, n_threads):
    """Run one block of time steps of one layer direction: dispatch to the slice kernel (one
    slice: in this thread) or its parallel launcher. Arguments as :func:`lstm_block`; ``unit``
    holds the packed weights (``panels``, ``bias``, ``w_hr_t``)."""
    B = xproj.shape[1]
    n_slices = n_slices_for(B, n_threads)
    if kind == "lstm":
        has_proj = unit.w_hr_t is not None
        w_hr_t = unit.w_hr_t if has_proj else np.zeros((1, 1), dtype=xproj.dtype)
        args = (xproj, t0, unit.panels, unit.bias, w_hr_t, has_proj, h, c, lengths, reverse)
        if n_slices == 1:
            lstm_block(*args, 0, B, out)
        else:
            lstm_parallel(*args, n_slices, out)
    elif kind == "gru":
        args = (xproj, t0, unit.panels, unit.bias, h, lengths, reverse)
        if n_slices == 1:
            gru_block(*args, 0, B, out)
        else:
            gru_parallel(*args, n_slices, out)
    else:
        args = (xproj, t0, unit.panels, unit.bias, h, lengths, reverse, relu)
        if n_slices == 1:
            rnn_block(*args, 0, B, out)
        else:
            rnn_parallel(*args, n_slices, out)
