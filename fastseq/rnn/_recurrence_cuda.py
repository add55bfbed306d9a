"""Launch of the CUDA recurrence: one layer, one direction, all time steps (LSTM, GRU, Elman RNN).

The layer driver has already computed ``xproj = x @ W_ih.T + b_ih`` for all steps with one cuBLAS
GEMM; :func:`recurrence_cuda` runs the recurrence over it on one of two paths (design and
crossover rule in ``docs/rnn_cuda.md``):

- ``persistent``: ONE kernel launch for the whole sequence (``_recurrence_cuda_persistent``),
  planned by ``_cuda_plan.plan_persistent``;
- ``stepwise`` (large H, or when the persistent plan does not fit): per step one cuBLAS GEMM
  (``xp.matmul(h, W_hh.T)``) plus one fused pointwise kernel (two GEMMs and two kernels with a
  projection; ``_recurrence_cuda_kernels``).

Variable lengths are masked inside the kernels: at step ``s`` sequence ``b`` is active while
``s < lengths[b]`` and reads time ``t = s`` (forward) or ``t = lengths[b] - 1 - s`` (reverse);
inactive rows only write zeros to ``out[s, b]`` (they never become active again, and their
``h_n`` / ``c_n`` hold the values of their last step). The persistent kernel stops after
``max(lengths)`` steps (found inside the kernel: no host synchronisation).

No warp shuffles: shared-memory reductions keep every kernel runnable in the CUDA simulator, where
the array module is NumPy. The simulator runs blocks one after another, so there the persistent
kernel is planned with a single block (a multi-block grid barrier would wait forever).

Kernels never validate input: the layers do. TF32 is never switched on (CuPy's matmul uses it only
when the user set ``CUPY_TF32=1`` themselves).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from numba import cuda

from .._backend import is_cupy_array, numba_device_array
from .._defaults import GATES
from ._cuda_plan import (ACTS, KINDS, POINTWISE_THREADS, SMEM_BUDGET, optin_smem_budget,
                         plan_persistent, refuse_optin, sm_count)
from ._recurrence_cuda_driver import launch_cooperative
from ._recurrence_cuda_kernels import (allow_persistent_smem, cooperative_persistent, kernels,
                                       numba_float, persistent_coresident)


def _stream(xp):
    if xp is np:
        return 0
    return cuda.external_stream(xp.cuda.get_current_stream().ptr)


def _dev(a, xp):
    """Hand CuPy arrays to Numba without a stream synchronisation (``_backend``)."""
    return a if xp is np else numba_device_array(a)


def recurrence_cuda(kind, xproj, w_hh, b_hh, h0, c0, lengths, reverse, nonlinearity, w_hr, *,
                    path="auto", units_per_block=None, threads=None, record=None):
    """Run one layer and direction of a recurrent network over all steps on the GPU.

    kind: "lstm" | "gru" | "rnn"; xproj (T, B, G*H) = x @ W_ih.T + b_ih; w_hh (G*H, H_in);
    b_hh (G*H,); h0 (B, H_out) (None: zeros); c0 (B, H) or None (lstm only; None: zeros);
    lengths (B,) int64 in 1..T; reverse: process each sequence from its own last step down to 0;
    nonlinearity "tanh" | "relu" (rnn); w_hr (proj_size, H) or None (lstm projection).
    Returns (out (T, B, H_out), h_n (B, H_out), c_n (B, H) or None) in the array module of
    ``xproj`` (CuPy; NumPy under the CUDA simulator), its dtype (float32 or float64).
    ``path`` = "auto" | "persistent" | "stepwise"; ``units_per_block`` and ``threads`` override
    the persistent plan (tuning and tests). ``record``, a list, gets one dict per call saying
    what ran: path ("persistent" | "stepwise"), the plan (or None) and why the automatic choice
    went stepwise (or None). Inputs are not modified.
    """
    xp = np
    if is_cupy_array(xproj):
        import cupy as xp
    if path not in ("auto", "persistent", "stepwise"):
        raise ValueError(f"path: expected 'auto', 'persistent' or 'stepwise', got {path!r}")
    k = KINDS[kind]
    G = GATES[kind]
    T, B, GH = xproj.shape
    H = GH // G
    K = w_hh.shape[1]
    has_proj = kind == "lstm" and w_hr is not None
    HO = w_hr.shape[0] if has_proj else H
    dtype = xproj.dtype
    act = ACTS[nonlinearity] if kind == "rnn" else 0
    if h0 is None:
        h0 = xp.zeros((B, HO), dtype=dtype)
    if kind == "lstm" and c0 is None:
        c0 = xp.zeros((B, H), dtype=dtype)
    dummy = xp.empty((1, 1), dtype=dtype)  # stands in for arrays a kind never touches
    xproj = xp.ascontiguousarray(xproj)
    w_hh = xp.ascontiguousarray(w_hh)
    b_hh = xp.ascontiguousarray(b_hh)
    h0 = xp.ascontiguousarray(h0)
    lengths = xp.ascontiguousarray(lengths, dtype=np.int64)
    w_hr_ = xp.ascontiguousarray(w_hr) if has_proj else dummy
    c0_ = xp.ascontiguousarray(c0) if kind == "lstm" else dummy

    out = xp.empty((T, B, HO), dtype=dtype)
    h_n = xp.empty((B, HO), dtype=dtype)
    c_n = xp.empty((B, H), dtype=dtype) if kind == "lstm" else None
    persistent, pointwise, commit = kernels(numba_float(dtype))
    stream = _stream(xp)
    n_sm = sm_count(xp)
    d = functools.partial(_dev, xp=xp)

    plan = None
    why = "asked for" if path == "stepwise" else None
    if path != "stepwise":
        plan, why = _persistent_plan(kind, B, H, K, HO, has_proj, dtype, n_sm, xp,
                                     units_per_block, threads)
        if plan is None and path == "persistent":
            raise ValueError(f"path='persistent' does not fit this shape (B={B}, H={H}, "
                             f"{n_sm} SMs): {why}")
    if plan is not None:
        # slots 0, 1: h double buffer; slot 2 (projection only): y = o*tanh(c)
        gbuf = xp.empty((3, B * max(HO, H)) if has_proj else (2, B * HO), dtype=dtype)
        bar = xp.zeros(1, dtype=np.int32)
        c_n_ = c_n if c_n is not None else dummy
        args = (k, act, int(has_proj), H, d(xproj), d(w_hh), d(b_hh), d(w_hr_), d(h0), d(c0_),
                d(lengths), int(bool(reverse)), d(gbuf), d(bar), d(out), d(h_n), d(c_n_),
                plan["U"], plan["PU"])
        try:
            if xp is np:    # the simulator: one block, a plain launch
                persistent[plan["blocks"], plan["threads"], stream, plan["smem_bytes"]](*args)
            else:
                launch_cooperative(cooperative_persistent(dtype.name), plan["blocks"],
                                   plan["threads"], stream, plan["smem_bytes"], args)
            if record is not None:
                record.append(dict(path="persistent", plan=plan, why=None))
            return out, h_n, c_n
        except Exception as exc:
            if xp is np:
                raise
            if plan["smem_bytes"] > SMEM_BUDGET:
                # the opt-in shared memory limit did not take: never ask for it again here
                warnings.warn(f"persistent recurrence kernel with {plan['smem_bytes']} bytes of "
                              f"shared memory failed to launch ({type(exc).__name__}: {exc}); "
                              f"staying under {SMEM_BUDGET} bytes on this device", RuntimeWarning)
                refuse_optin(xp.cuda.Device().id)
                return recurrence_cuda(kind, xproj, w_hh, b_hh, h0, c0, lengths, reverse,
                                       nonlinearity, w_hr, path=path,
                                       units_per_block=units_per_block, threads=threads,
                                       record=record)
            if path == "persistent":
                raise
            # e.g. CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE: the grid cannot be co-resident now
            warnings.warn(f"cooperative launch of the persistent recurrence kernel "
                          f"({plan['blocks']} blocks) failed ({type(exc).__name__}: {exc}); "
                          "running the stepwise path", RuntimeWarning)
            why = f"cooperative launch failed: {type(exc).__name__}"

    # stepwise: per step one GEMM (+ one with a projection) and one fused kernel (+ commit)
    maxlen = int(lengths.max())
    hbuf = xp.empty((2, B, HO), dtype=dtype)
    hbuf[0] = h0
    c = c0_.copy() if kind == "lstm" else dummy
    ybuf = xp.empty((B, H), dtype=dtype) if has_proj else dummy
    hp = xp.empty((B, HO), dtype=dtype) if has_proj else dummy
    gh = xp.empty((B, G * H), dtype=dtype)
    w_hh_t = w_hh.T
    w_hr_t = w_hr_.T
    gh_d, b_hh_d, x_d, len_d = d(gh), d(b_hh), d(xproj), d(lengths)
    h_d = (d(hbuf[0]), d(hbuf[1]))
    c_d, y_d, hp_d, out_d, hn_d = d(c), d(ybuf), d(hp), d(out), d(h_n)
    n_pw = -(-(B * H) // POINTWISE_THREADS)
    n_cm = -(-(B * HO) // POINTWISE_THREADS)
    pw = pointwise[n_pw, POINTWISE_THREADS, stream]
    cm = commit[n_cm, POINTWISE_THREADS, stream]
    rev = int(bool(reverse))
    for s in range(maxlen):
        cur, nxt = s & 1, 1 - (s & 1)
        xp.matmul(hbuf[cur], w_hh_t, out=gh)
        pw(k, act, int(has_proj), H, gh_d, b_hh_d, x_d, s, len_d, rev, h_d[cur], h_d[nxt], c_d,
           y_d, out_d, hn_d)
        if has_proj:
            xp.matmul(ybuf, w_hr_t, out=hp)
            cm(hp_d, s, len_d, rev, h_d[nxt], out_d, hn_d)
    if maxlen < T:
        out[maxlen:] = 0
    if kind == "lstm":
        c_n[...] = c
    if record is not None:
        record.append(dict(path="stepwise", plan=None, why=why))
    return out, h_n, c_n


def _persistent_plan(kind, B, H, K, HO, has_proj, dtype, n_sm, xp, units_per_block, threads):
    """(plan, None), or (None, why not): the persistent plan under the device's shared-memory
    budget (with the opt-in) and, on a GPU, its co-resident limit from the occupancy API."""
    coresident = None
    if xp is np:
        budget = SMEM_BUDGET
    else:
        dev = xp.cuda.Device().id
        budget = optin_smem_budget(dev, dtype.name, allow_persistent_smem)

        def coresident(nt, smem):
            return persistent_coresident(dev, dtype.name, nt, smem, n_sm)
    plan = plan_persistent(kind, B, H, K, HO, has_proj, dtype.itemsize, n_sm,
                           units_per_block=units_per_block, threads=threads,
                           smem_budget=budget, coresident=coresident)
    if plan is not None:
        return plan, None
    return None, (f"no persistent plan within {n_sm} co-resident blocks, {budget} bytes of "
                  "shared memory per block and the work cap")
