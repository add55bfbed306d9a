"""The recurrent product of the CPU kernels, ``gates = b_hh + h @ W_hh.T``, on weights packed once.

Why not BLAS: per step the product is small (B/threads rows), and an sgemm call re-packs the whole
weight each time; worse, OpenBLAS serialises concurrent callers, so two workers each calling it
per step ran 4x slower than one (2.0 ms vs 8.0 ms for 100 products of 16 x 128 @ 128 x 512,
measured on the 2-core machine). This loop has no call overhead, no packing per step and no lock.

Layout: the (H_in, N) transposed weight (N = G*H gate columns) is cut into panels of at most
``PANEL_COLUMNS`` columns, stored (n_panels, H_in_padded, width) C-contiguous, zero-padded so
that H_in is a multiple of ``K_STEP`` and the width of every panel equal. Per panel, the K loop runs in
blocks of ``K_BLOCK`` rows (a block of the panel, 16 x 512 float32 = 32 KiB, stays in L1 while
every batch row uses it); within a block, four batch rows and eight weight rows are combined per
pass over the panel's columns, so each load of a weight vector feeds four FMAs and each
load/store of the gate row eight, which keeps the loop on the FMA units rather than on the load
and store ports (on 16 lanes with AVX-512, or 8 with AVX2). Eight weight rows per pass measured
1.8x faster than four with AVX-512 and 1.5x with AVX2 (16 x 128 @ 128 x 512, interleaved).

Determinism: a row's sums are the same whichever slice of the batch it is in, as long as slices
start at multiples of ``ROW_GROUP`` (the callers' slicing guarantees it): rows are grouped in fours
from the slice start, and the tail rows of the batch are the only ones taken one at a time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._defaults import FASTMATH

PANEL_COLUMNS = 512
K_BLOCK = 16
# weight rows combined per pass over the columns (H_in is padded to a multiple of it)
K_STEP = 8
ROW_GROUP = 4


def pack_recurrent(w_hh, b_hh, dtype):
    """Pack a recurrent weight for :func:`packed_product`.

    w_hh (N, H_in) in torch's layout, b_hh (N,) (zeros for no bias). Returns ``(panels, bias)``:
    panels (n_panels, H_in padded to a multiple of K_STEP, width) C-contiguous, and the bias padded to
    n_panels * width, both of ``dtype``. Padding is zero.
    """
    n, k = w_hh.shape
    n_panels = -(-n // PANEL_COLUMNS)
    width = -(-n // n_panels)
    width += -width % 16  # whole vectors
    k_pad = k + (-k % K_STEP)
    padded = np.zeros((k_pad, n_panels * width), dtype=dtype)
    padded[:k, :n] = np.asarray(w_hh, dtype=dtype).T
    panels = np.ascontiguousarray(padded.reshape(k_pad, n_panels, width).transpose(1, 0, 2))
    bias = np.zeros(n_panels * width, dtype=dtype)
    bias[:n] = b_hh
    return panels, bias


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _four_rows(ha, hb, hc, hd, wc, g0, g1, g2, g3, k0, k1):
    for k in range(k0, k1, K_STEP):
        w0, w1, w2, w3, w4, w5, w6, w7 = (wc[k], wc[k + 1], wc[k + 2], wc[k + 3], wc[k + 4],
                                          wc[k + 5], wc[k + 6], wc[k + 7])
        a0, a1, a2, a3, a4, a5, a6, a7 = (ha[k], ha[k + 1], ha[k + 2], ha[k + 3], ha[k + 4],
                                          ha[k + 5], ha[k + 6], ha[k + 7])
        b0, b1, b2, b3, b4, b5, b6, b7 = (hb[k], hb[k + 1], hb[k + 2], hb[k + 3], hb[k + 4],
                                          hb[k + 5], hb[k + 6], hb[k + 7])
        c0, c1, c2, c3, c4, c5, c6, c7 = (hc[k], hc[k + 1], hc[k + 2], hc[k + 3], hc[k + 4],
                                          hc[k + 5], hc[k + 6], hc[k + 7])
        d0, d1, d2, d3, d4, d5, d6, d7 = (hd[k], hd[k + 1], hd[k + 2], hd[k + 3], hd[k + 4],
                                          hd[k + 5], hd[k + 6], hd[k + 7])
        for j in range(wc.shape[1]):
            x0, x1, x2, x3 = w0[j], w1[j], w2[j], w3[j]
            x4, x5, x6, x7 = w4[j], w5[j], w6[j], w7[j]
            g0[j] += ((a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)) + \
                ((a4 * x4 + a5 * x5) + (a6 * x6 + a7 * x7))
            g1[j] += ((b0 * x0 + b1 * x1) + (b2 * x2 + b3 * x3)) + \
                ((b4 * x4 + b5 * x5) + (b6 * x6 + b7 * x7))
            g2[j] += ((c0 * x0 + c1 * x1) + (c2 * x2 + c3 * x3)) + \
                ((c4 * x4 + c5 * x5) + (c6 * x6 + c7 * x7))
            g3[j] += ((d0 * x0 + d1 * x1) + (d2 * x2 + d3 * x3)) + \
                ((d4 * x4 + d5 * x5) + (d6 * x6 + d7 * x7))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _one_row(ha, wc, g0, k0, k1):
    for k in range(k0, k1, K_STEP):
        w0, w1, w2, w3, w4, w5, w6, w7 = (wc[k], wc[k + 1], wc[k + 2], wc[k + 3], wc[k + 4],
                                          wc[k + 5], wc[k + 6], wc[k + 7])
        a0, a1, a2, a3, a4, a5, a6, a7 = (ha[k], ha[k + 1], ha[k + 2], ha[k + 3], ha[k + 4],
                                          ha[k + 5], ha[k + 6], ha[k + 7])
        for j in range(wc.shape[1]):
            g0[j] += ((a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j])) + \
                ((a4 * w4[j] + a5 * w5[j]) + (a6 * w6[j] + a7 * w7[j]))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def packed_product(h, panels, bias, gates, tail_start):
    """gates[b] = bias + h[b] @ W for every row b of the slice.

    h (m, H_in_padded) (padding columns zero), panels and bias from :func:`pack_recurrent`, gates
    (m, n_panels * width). Rows from ``tail_start`` on are taken one at a time (the batch's last
    B % 4 rows), the others in fours.
    """
    n_panels, k_pad, width = panels.shape
    m = h.shape[0]
    for p in range(n_panels):
        wc = panels[p]
        j0 = p * width
        j1 = j0 + width
        for b in range(m):
            gb = gates[b]
            for j in range(j0, j1):
                gb[j] = bias[j]
        for k0 in range(0, k_pad, K_BLOCK):
            k1 = min(k_pad, k0 + K_BLOCK)
            for b in range(0, tail_start, ROW_GROUP):
                _four_rows(h[b], h[b + 1], h[b + 2], h[b + 3], wc, gates[b, j0:j1],
                           gates[b + 1, j0:j1], gates[b + 2, j0:j1], gates[b + 3, j0:j1], k0, k1)
            for b in range(tail_start, m):
                _one_row(h[b], wc, gates[b, j0:j1], k0, k1)
