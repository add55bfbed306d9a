"""CPU kernels of the 1D convolution: offline (whole sequences) and one streaming step.

Offline, :func:`conv_block_cpu` splits the work into (batch row, time tile) jobs over Numba's
workers. Each job gathers the k taps of its tile into one column matrix, tap-major
(``col[j * Cg + c, t] = x[c, t * stride + j * dilation - pad_left]``, zero outside the input), and
multiplies it by the weights in the matching layout, ``w[g, o, j * Cg + c] = W[g * Og + o, c, j]``,
with one BLAS call per group (BLAS held to one thread, ``_threads.single_threaded_blas``). The
bias, the activation and the residual of a TCN block are applied while the product tile is still
in cache. A causal layer's residual input x[t] is the last tap, rows ``(k - 1) * C ..`` of the
column matrix, so a 1x1 projection is a second, smaller product on those rows.

Activations: 0 none, 1 relu, 2 gated (``tanh(z[:C]) * sigmoid(z[C:])`` over 2C conv outputs).
Residuals: 0 none, 1 identity, 2 a 1x1 projection ``w_res @ x[t] + b_res``.

Streaming, :func:`stream_step_cpu` runs every layer of a stack for one time step. Each layer keeps
a ring buffer of its last L = (k - 1) * d inputs, (B, L, C) with slot ``pos`` the oldest; the step
reads k - 1 slots and the new input, so its cost is O(layers), not O(receptive field). Weights
and buffers of all layers are packed in flat arrays with offsets (one Numba call per step).
Kernels never validate: the layers above them do.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._defaults import FASTMATH

ACT_NONE, ACT_RELU, ACT_GATED = 0, 1, 2
RES_NONE, RES_IDENTITY, RES_PROJECT = 0, 1, 2


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _activate(z, z_gate, act):
    if act == ACT_RELU:
        return z if z > 0 else z * 0
    if act == ACT_GATED:
        return math.tanh(z) / (1 + math.exp(-z_gate))
    return z


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _conv_job(job, n_tiles, x, w, bias, w_res, b_res, out, stride, dilation, pad_left, kernel,
              tile, act, res):
    """One (batch row, time tile) job of :func:`conv_block_cpu`."""
    n_in, t_in = x.shape[1], x.shape[2]
    groups, og_conv, kk = w.shape
    cg = n_in // groups
    n_out, t_out = out.shape[1], out.shape[2]
    og = n_out // groups
    b = job // n_tiles
    t0 = (job % n_tiles) * tile
    nt = min(tile, t_out - t0)
    col = np.empty((kk, nt), dtype=x.dtype)
    z = np.empty((og_conv, nt), dtype=x.dtype)
    for g in range(groups):
        for j in range(kernel):
            off = j * dilation - pad_left
            # outputs t with 0 <= (t0 + t) * stride + off < t_in read the input; others are 0
            lo = max(0, min(nt, (-off - t0 * stride + stride - 1) // stride))
            hi = max(lo, min(nt, (t_in - off - t0 * stride + stride - 1) // stride))
            start = t0 * stride + off
            # slices, and loops over range() indices only: an index like t0 + t could be
            # negative as far as LLVM knows, and Numba's wraparound would keep it scalar
            for c in range(cg):
                row = col[j * cg + c]
                row[:lo] = 0
                row[hi:] = 0
                if hi > lo:
                    row[lo:hi] = x[b, g * cg + c, start + lo * stride:start + (hi - 1) * stride + 1:
                                   stride]
        np.dot(w[g], col, z)
        for o in range(og):
            oc = g * og + o
            dst = out[b, oc, t0:t0 + nt]
            zo = z[o]
            bo = bias[oc]
            if act == ACT_GATED:
                zg = z[og + o]
                bg = bias[og + o]
                for t in range(nt):
                    dst[t] = _activate(zo[t] + bo, zg[t] + bg, act)
            else:
                for t in range(nt):
                    dst[t] = _activate(zo[t] + bo, bo, act)
    if res == RES_IDENTITY:
        for o in range(n_out):
            dst = out[b, o, t0:t0 + nt]
            src = x[b, o, t0:t0 + nt]
            for t in range(nt):
                dst[t] += src[t]
    elif res == RES_PROJECT:
        r = np.empty((n_out, nt), dtype=x.dtype)
        np.dot(w_res, np.ascontiguousarray(col[(kernel - 1) * n_in:]), r)
        for o in range(n_out):
            dst = out[b, o, t0:t0 + nt]
            ro = r[o]
            bo = b_res[o]
            for t in range(nt):
                dst[t] += ro[t] + bo


@njit(parallel=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def conv_block_cpu(x, w, bias, w_res, b_res, out, stride, dilation, pad_left, kernel, tile, act,
                   res):
    """out[b, o, t] = act(sum_{c, j} W[o, c, j] x[b, c, t*stride + j*dilation - pad_left] + bias[o])
    (+ residual), for all b, o, t, the (batch row, time tile) jobs on Numba's workers.

    x (B, C, T); w (G, Og_conv, k * Cg) in the tap-major layout; bias (G * Og_conv,) (zeros when
    the layer has none); w_res (C_out, C) and b_res (C_out,) used when ``res`` is RES_PROJECT;
    out (B, C_out, T_out). With the gated activation G == 1 and Og_conv == 2 * C_out.
    """
    n_tiles = (out.shape[2] + tile - 1) // tile
    for job in prange(x.shape[0] * n_tiles):
        _conv_job(job, n_tiles, x, w, bias, w_res, b_res, out, stride, dilation, pad_left,
                  kernel, tile, act, res)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def conv_block_serial(x, w, bias, w_res, b_res, out, stride, dilation, pad_left, kernel, tile,
                      act, res):
    """:func:`conv_block_cpu` on the calling thread, for work too small to pay for waking the
    workers (on a busy machine one parallel launch can cost milliseconds)."""
    n_tiles = (out.shape[2] + tile - 1) // tile
    for job in range(x.shape[0] * n_tiles):
        _conv_job(job, n_tiles, x, w, bias, w_res, b_res, out, stride, dilation, pad_left,
                  kernel, tile, act, res)


def time_tile(t_out: int, batch: int, kk: int, itemsize: int, workers: int, tile_bytes: int) -> int:
    """Output steps per job: the column matrix (kk, tile) within ``tile_bytes``, and enough jobs
    for every worker when the batch is small."""
    cap = max(16, tile_bytes // max(1, kk * itemsize))
    per_row = -(-workers // max(1, batch))   # jobs each batch row must give
    return max(1, min(cap, -(-t_out // per_row)))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _dot(a, a0, b, b0, n):
    """sum_i a[a0 + i] * b[b0 + i] over i < n, a vectorised reduction under fastmath. It runs
    on slices: an index ``a0 + i`` could be negative as far as LLVM knows, and Numba's
    wraparound for negative indices then turns the loop into gathers (4x slower)."""
    x = a[a0:a0 + n]
    y = b[b0:b0 + n]
    acc = a[a0] * 0
    for i in range(n):
        acc += x[i] * y[i]
    return acc


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def stream_step_cpu(x, meta, w_flat, w_off, b_flat, r_flat, r_off, rb_flat, buf_flat, buf_off,
                    pos, scratch, out):
    """One time step of a stack of causal convolutions, every layer, every batch row.

    x (B, C_0) the new input; out (B, C_last). ``meta[l]`` = (C_in, C_out_conv, C_out, kernel,
    dilation, groups, act, res). Layer l's weights are ``w_flat[w_off[l]:]`` as (C_out_conv,
    k * Cg) tap-major, its bias ``b_flat[w_off[l] ...]`` via ``meta``; its residual projection
    ``r_flat[r_off[l]:]`` (C_out, C_in) with bias ``rb_flat``; its ring buffer
    ``buf_flat[buf_off[l]:]`` (B, L, C_in) with the oldest slot ``pos[l]``, advanced here.
    ``scratch`` (2, B, C_max + max taps * C_max) holds the layer inputs and gathered taps.
    """
    n_layers = meta.shape[0]
    n_batch = x.shape[0]
    cur = scratch[0]
    nxt = scratch[1]
    for b in range(n_batch):
        for c in range(x.shape[1]):
            cur[b, c] = x[b, c]
    b_off = 0
    rb_off = 0
    for layer in range(n_layers):
        c_in, oc_conv, c_out, kernel, dil, groups, act, res = meta[layer]
        cg = c_in // groups
        og = oc_conv // groups
        kk = kernel * cg
        span = (kernel - 1) * dil
        p = pos[layer]
        wo = w_off[layer]
        bo = buf_off[layer]
        for b in range(n_batch):
            taps = nxt[b]   # outputs go to taps[:c_out], the gathered taps to its tail
            base = taps.shape[0] - kernel * c_in
            # group-major taps, taps[base + g * kk + j * cg + c], so that each output's row of
            # weights meets one contiguous run of taps
            for j in range(kernel):
                if j < kernel - 1:
                    src = bo + (b * span + (p + j * dil) % span) * c_in
                    for g in range(groups):
                        dst = base + g * kk + j * cg
                        for c in range(cg):
                            taps[dst + c] = buf_flat[src + g * cg + c]
                else:
                    for g in range(groups):
                        dst = base + g * kk + j * cg
                        for c in range(cg):
                            taps[dst + c] = cur[b, g * cg + c]
            for o in range(c_out):
                tb = base + (o // og) * kk
                acc = b_flat[b_off + o] + _dot(w_flat, wo + o * kk, taps, tb, kk)
                acc_g = acc
                if act == ACT_GATED:
                    acc_g = b_flat[b_off + c_out + o] + _dot(w_flat, wo + (c_out + o) * kk,
                                                             taps, tb, kk)
                taps[o] = _activate(acc, acc_g, act)
            if res == RES_IDENTITY:
                for o in range(c_out):
                    taps[o] += cur[b, o]
            elif res == RES_PROJECT:
                ro = r_off[layer]
                last = base + (kernel - 1) * c_in   # the new input, groups == 1 here
                for o in range(c_out):
                    taps[o] += rb_flat[rb_off + o] + _dot(r_flat, ro + o * c_in, taps, last, c_in)
            if span > 0:
                dst = bo + (b * span + p) * c_in
                for c in range(c_in):
                    buf_flat[dst + c] = cur[b, c]
        if span > 0:
            pos[layer] = (p + 1) % span
        b_off += oc_conv
        if res == RES_PROJECT:
            rb_off += c_out
        cur, nxt = nxt, cur
    for b in range(n_batch):
        for o in range(out.shape[1]):
            out[b, o] = cur[b, o]
