"""Helpers of the training kernels (``_train_cpu``, ``_backward_cpu``): the recurrent product of
the training forward and backward (a hand loop for small batch slices, BLAS above), and the batch
slicing. The inference kernels use the packed product of ``_packed_product`` instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._defaults import FASTMATH

# Slices of at least this many rows use BLAS for the recurrent product.
BLAS_MIN_ROWS = 4


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
