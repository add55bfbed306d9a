"""Host-side planning of the CUDA recurrence: which path runs and how the persistent kernel is
launched (design and crossover rule in ``docs/rnn_cuda.md``).

- :func:`choose_path` / :func:`plan_persistent`: the persistent kernel when a launch plan fits
  (every block resident, shared memory within the budget, bounded work per block and step),
  else the stepwise path;
- :func:`persistent_smem_elements`: the persistent kernel's shared-memory layout, counted;
- the device facts the plan needs: SM count, the opt-in shared-memory limit
  (:func:`optin_smem_budget`, given up per device by :func:`refuse_optin`), simulator or GPU.

Importing this module needs neither a GPU nor the simulator: it is pure Python and NumPy. It
never imports the kernels; CuPy and Numba only inside the functions that query a device.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from .._defaults import GATES

# Codes of the kernels' integer arguments ``kind`` and ``act``.
LSTM, GRU, RNN = 0, 1, 2
KINDS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
ACTS = {"tanh": 0, "relu": 1}

BT = 4                      # batch rows per thread in the mat-vec (register tile of 4 accumulators)
SMEM_BUDGET = 48 * 1024     # dynamic shared memory per block without the opt-in attribute
DEFAULT_THREADS = 256       # threads per block on a GPU
SIM_THREADS = 32            # threads per block under the simulator (one Python thread each)
TARGET_BLOCKS = 64          # preferred grid size of the persistent kernel (tuned on the GPU later)
MAX_BLOCK_MACS = 1 << 18    # per block and step; above it the cuBLAS path should win (measure!)
POINTWISE_THREADS = 256     # threads per block of the stepwise path's pointwise kernels


def persistent_smem_elements(G, U, PU, K, H, B, nt, has_proj):
    """Dynamic shared memory of one persistent block, in elements of the kernel's dtype.

    G gates, U hidden units and PU projection rows per block, K = H_in (columns of W_hh), H hidden
    size, B batch rows, nt threads per block. The layout (the kernel computes the same offsets):
    W_hh slice (G*U rows padded to K+32) | W_hr slice (PU rows padded to H+32, projection only) |
    b_hh slice | staged h_{t-1} or y_t (B rows rounded up to a multiple of BT) | x_t slice |
    pre-activations | reduction partials (BT per thread) | cell state slice (U*B).
    """
    R = G * U
    Bp = -(-B // BT) * BT
    VK = max(K, H) if has_proj else K
    o_wr = R * (K + 32)
    o_bias = o_wr + (PU * (H + 32) if has_proj else 0)
    o_v = o_bias + R
    o_x = o_v + Bp * VK
    o_pre = o_x + R * B
    o_part = o_pre + max(R, PU) * B
    o_c = o_part + nt * BT
    return o_c + U * B


def plan_persistent(kind, B, H, K, HO, has_proj, itemsize, n_sm, *, units_per_block=None,
                    threads=None, smem_budget=None, max_block_macs=None, coresident=None):
    """Launch plan of the persistent kernel, or None when it should not run.

    kind "lstm" | "gru" | "rnn"; B batch rows; H hidden size; K = H_in (columns of W_hh); HO
    output size (proj_size with a projection, else H); itemsize 4 (float32) or 8 (float64);
    n_sm SMs of the device. Returns dict(blocks, threads, U, PU, smem_bytes, macs). Block j owns
    U hidden units (and PU projection rows); the grid must not exceed ``n_sm`` (every block
    resident at once, else the grid barrier deadlocks). Starting from ``min(n_sm, TARGET_BLOCKS)``
    blocks, U shrinks (the grid grows) until one block's shared memory fits ``smem_budget`` and
    its multiply-adds per step (G*U*B*K, plus PU*B*H with a projection) are at most
    ``max_block_macs``; beyond that the per-step cuBLAS path is expected to win
    (docs/rnn_cuda.md, to be confirmed on the GPU). ``units_per_block`` fixes U (only the grid
    and shared-memory limits apply then); ``threads`` must be a power of two. ``coresident``
    (threads, smem_bytes) -> blocks, when given, is the device's co-resident limit for the kernel
    (the occupancy API, :func:`._recurrence_cuda_driver.co_resident_blocks`): the grid must not
    exceed it either, since the grid barrier waits for every block.
    """
    G = GATES[kind]
    nt = threads or (SIM_THREADS if running_in_simulator() else DEFAULT_THREADS)
    if nt < 1 or nt & (nt - 1):
        raise ValueError(f"threads: expected a power of two, got {nt}")
    smem_budget = SMEM_BUDGET if smem_budget is None else smem_budget
    max_block_macs = MAX_BLOCK_MACS if max_block_macs is None else max_block_macs

    def make(U):
        blocks = -(-H // U)
        PU = -(-HO // blocks) if has_proj else 0
        smem = persistent_smem_elements(G, U, PU, K, H, B, nt, has_proj) * itemsize
        macs = G * U * B * K + PU * B * H
        return dict(blocks=blocks, threads=nt, U=U, PU=PU, smem_bytes=smem, macs=macs)

    def ok(p):
        return (p["blocks"] <= n_sm and p["smem_bytes"] <= smem_budget
                and (coresident is None or p["blocks"] <= coresident(nt, p["smem_bytes"])))

    if units_per_block is not None:      # explicit tuning: only the hard limits apply
        p = make(int(units_per_block))
        return p if ok(p) else None
    for U in range(-(-H // min(n_sm, TARGET_BLOCKS, H)), 0, -1):
        p = make(U)
        if p["blocks"] > n_sm:
            return None
        if ok(p) and p["macs"] <= max_block_macs:
            return p
    return None


def choose_path(kind, B, H, K, HO, has_proj, itemsize, n_sm, **plan_kw):
    """('persistent', plan) when the persistent plan fits (see plan_persistent), else
    ('stepwise', None)."""
    plan = plan_persistent(kind, B, H, K, HO, has_proj, itemsize, n_sm, **plan_kw)
    return ("persistent", plan) if plan is not None else ("stepwise", None)


# --------------------------------------------------------------------------------------------
# device facts
# --------------------------------------------------------------------------------------------

def running_in_simulator() -> bool:
    """Whether Numba runs CUDA kernels in its simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba import config
    return bool(config.ENABLE_CUDASIM)


def sm_count(xp) -> int:
    """SMs the persistent grid may use on the current device of the array module ``xp``."""
    if xp is np:        # the simulator runs blocks one after another: only 1 block may wait
        return 1
    return device_sm_count(xp.cuda.Device().id)


def _device_properties(device_id: int) -> dict:
    """CUDA device properties of ``device_id`` (CuPy's runtime query)."""
    import cupy
    return cupy.cuda.runtime.getDeviceProperties(device_id)


@functools.lru_cache(maxsize=None)
def device_sm_count(device_id: int) -> int:
    return int(_device_properties(device_id)["multiProcessorCount"])


OPTIN_FAILED = set()   # devices where a launch above SMEM_BUDGET failed: stay under it there


@functools.lru_cache(maxsize=None)
def optin_smem_budget(device_id: int, dtype_name: str, allow) -> int:
    """Raise the persistent kernel's dynamic shared memory limit to the device's opt-in maximum
    (227 KB on H100/H200) with ``allow(dtype_name, nbytes)`` (the kernel module's
    ``allow_persistent_smem``) and return it; SMEM_BUDGET when that is not possible or the device
    is in OPTIN_FAILED."""
    if device_id in OPTIN_FAILED:
        return SMEM_BUDGET
    try:
        optin = int(_device_properties(device_id)["sharedMemPerBlockOptin"])
    except Exception:   # no usable device: nothing to warn about, the plan stays small
        return SMEM_BUDGET
    if optin <= SMEM_BUDGET:
        return SMEM_BUDGET
    try:
        allow(dtype_name, optin)
    except Exception as exc:
        warnings.warn(f"could not raise the {dtype_name} persistent recurrence kernel's shared "
                      f"memory limit to {optin} bytes on device {device_id} "
                      f"({type(exc).__name__}: {exc}); plans above {SMEM_BUDGET} bytes run the "
                      "stepwise path there", RuntimeWarning, stacklevel=2)
        return SMEM_BUDGET
    return optin


def refuse_optin(device_id: int) -> None:
    """A launch above SMEM_BUDGET failed on ``device_id``: plan under SMEM_BUDGET there from now."""
    OPTIN_FAILED.add(device_id)
    optin_smem_budget.cache_clear()
