"""The CUDA kernels of the recurrence, by dtype: the stepwise path's two pointwise kernels (defined
here) and the persistent kernel (``_recurrence_cuda_persistent``), plus their argument types for
the compile lane. Design: ``docs/rnn_cuda.md``; the launch: ``_recurrence_cuda.recurrence_cuda``.

Stepwise path, per step: ``gh = h_{t-1} @ W_hh.T`` (one cuBLAS GEMM, done by the launcher), then
``pointwise`` (one thread per (b, u): + b_hh + x_t, gates, state update, masks); with a projection
``hp = y @ W_hr.T`` (a second GEMM) and ``commit`` (mask and store h_t). Kernels never validate
input: the layers do.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float32, float64, int64

from ._cuda_plan import GRU, LSTM
from ._recurrence_cuda_persistent import persistent_kernel, persistent_signature


def numba_float(dtype):
    """The numba float type of a NumPy float dtype (or its name): float32, else float64."""
    return float32 if np.dtype(dtype) == np.float32 else float64


def kernels(dt):
    """(persistent, pointwise, commit) CUDA kernels for the numba float type ``dt``."""
    return (persistent_kernel(dt),) + stepwise_kernels(dt)


@functools.lru_cache(maxsize=None)
def stepwise_kernels(dt):
    """(pointwise, commit) kernels of the stepwise path for the numba float type ``dt``, built once
    per type (the constants must be known at compile time)."""

    @cuda.jit
    def pointwise(kind, act, has_proj, H, gh, b_hh, xproj, s, lengths, reverse,
                  h_cur, h_nxt, c, ybuf, out, h_n):
        """One step of the stepwise path, one thread per (b, u): gh = h_{t-1} @ W_hh.T (cuBLAS),
        plus b_hh, plus x_t, gates, masks. With a projection it writes y = o*tanh(c) to ybuf
        (the commit kernel finishes the step)."""
        one = dt(1)
        zero = dt(0)
        i = cuda.grid(1)
        B = gh.shape[0]
        if i >= B * H:
            return
        b = i // H
        u = i - b * H
        L = lengths[b]
        t = s
        if reverse:
            t = L - 1 - s
        if kind == LSTM:
            if s < L:
                gi = one / (one + math.exp(-(xproj[t, b, u] + gh[b, u] + b_hh[u])))
                gf = one / (one + math.exp(-(xproj[t, b, H + u] + gh[b, H + u] + b_hh[H + u])))
                gg = math.tanh(xproj[t, b, 2 * H + u] + gh[b, 2 * H + u] + b_hh[2 * H + u])
                go = one / (one + math.exp(-(xproj[t, b, 3 * H + u] + gh[b, 3 * H + u]
                                             + b_hh[3 * H + u])))
                cv = gf * c[b, u] + gi * gg
                c[b, u] = cv
                y = go * math.tanh(cv)
                if has_proj:
                    ybuf[b, u] = y
                else:
                    h_nxt[b, u] = y
                    out[t, b, u] = y
                    if s == L - 1:
                        h_n[b, u] = y
            elif not has_proj:
                out[s, b, u] = zero
        else:
            if s < L:
                if kind == GRU:
                    hprev = h_cur[b, u]
                    gr = one / (one + math.exp(-(xproj[t, b, u] + gh[b, u] + b_hh[u])))
                    gz = one / (one + math.exp(-(xproj[t, b, H + u] + gh[b, H + u] + b_hh[H + u])))
                    gn = math.tanh(xproj[t, b, 2 * H + u]
                                   + gr * (gh[b, 2 * H + u] + b_hh[2 * H + u]))
                    hv = gn + gz * (hprev - gn)
                else:
                    hv = xproj[t, b, u] + gh[b, u] + b_hh[u]
                    if act == 0:
                        hv = math.tanh(hv)
                    elif hv < zero:
                        hv = zero
                h_nxt[b, u] = hv
                out[t, b, u] = hv
                if s == L - 1:
                    h_n[b, u] = hv
            else:
                out[s, b, u] = zero

    @cuda.jit
    def commit(hp, s, lengths, reverse, h_nxt, out, h_n):
        """Stepwise path with a projection: hp = y @ W_hr.T (cuBLAS); mask and store h_t."""
        i = cuda.grid(1)
        B = hp.shape[0]
        P = hp.shape[1]
        if i >= B * P:
            return
        b = i // P
        p = i - b * P
        L = lengths[b]
        if s < L:
            t = s
            if reverse:
                t = L - 1 - s
            hv = hp[b, p]
            h_nxt[b, p] = hv
            out[t, b, p] = hv
            if s == L - 1:
                h_n[b, p] = hv
        else:
            out[s, b, p] = dt(0)

    return pointwise, commit


def kernel_signatures(dtype):
    """{name: (python function, signature)} of every kernel for ``dtype`` (compile lane)."""
    dt = numba_float(dtype)
    persistent, pointwise, commit = kernels(dt)
    a1, a2, a3 = dt[::1], dt[:, ::1], dt[:, :, ::1]
    return {
        "persistent": (persistent.py_func, persistent_signature(dt)),
        "pointwise": (pointwise.py_func,
                      (int64, int64, int64, int64, a2, a1, a3, int64, int64[::1], int64,
                       a2, a2, a2, a2, a3, a2)),
        "commit": (commit.py_func, (a2, int64, int64[::1], int64, a2, a3, a2)),
    }


@functools.lru_cache(maxsize=None)
def cooperative_persistent(dtype_name: str):
    """The persistent kernel of ``dtype_name`` compiled for its signature and marked for a
    cooperative launch (``_recurrence_cuda_driver``); GPU only."""
    from ._recurrence_cuda_driver import cooperative_kernel
    dispatcher, _, _ = kernels(numba_float(dtype_name))
    return cooperative_kernel(dispatcher, kernel_signatures(dtype_name)["persistent"][1])


def _persistent_handle(dtype_name: str):
    return cooperative_persistent(dtype_name)._codelibrary.get_cufunc().handle


def allow_persistent_smem(dtype_name: str, nbytes: int) -> None:
    """Let the compiled persistent kernel of ``dtype_name`` use ``nbytes`` of dynamic shared
    memory, with the driver call its handle type needs (``set_max_dynamic_smem``). The handle
    comes from Numba's compiled-kernel object (the same one the carveout attribute uses)."""
    from numba.cuda import get_current_device
    from ._recurrence_cuda_driver import set_max_dynamic_smem
    set_max_dynamic_smem(_persistent_handle(dtype_name), nbytes, get_current_device().id)


@functools.lru_cache(maxsize=None)
def persistent_coresident(device_id: int, dtype_name: str, threads: int, smem_bytes: int,
                          n_sm: int) -> int:
    """Blocks of the persistent kernel that can be resident at once on device ``device_id`` (the
    current one) with
    ``threads`` threads and ``smem_bytes`` of dynamic shared memory (occupancy API)."""
    from ._recurrence_cuda_driver import co_resident_blocks
    return co_resident_blocks(_persistent_handle(dtype_name), threads, smem_bytes, n_sm)
