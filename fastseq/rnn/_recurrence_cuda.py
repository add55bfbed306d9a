"""CUDA recurrence kernels: one layer, one direction, all time steps (LSTM, GRU, Elman RNN).

The layer driver has already computed ``xproj = x @ W_ih.T + b_ih`` for all steps with one cuBLAS
GEMM; this module runs the recurrence over it. Two paths (design and crossover rule in
``docs/rnn_cuda.md``):

- ``persistent``: ONE kernel launch for the whole sequence. Each thread block owns a slice of hidden
  units (all gates of those units), keeps that slice of ``W_hh`` (and of ``W_hr`` with a projection)
  in shared memory for all T steps, keeps its slice of the LSTM cell state in shared memory, and
  exchanges the hidden state through a double-buffered global array with a grid-wide barrier
  (atomic arrival counter) between steps. The grid never exceeds the number of SMs so every block
  is resident at once.
- ``stepwise`` (large H, or when the persistent plan does not fit): per step one cuBLAS GEMM
  (``xp.matmul(h, W_hh.T)``) plus one fused pointwise kernel (two GEMMs and two kernels with a
  projection).

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
import math
import warnings

import numpy as np
from numba import config as _numba_config
from numba import cuda, float32, float64, int32, int64

from fastseq._backend import is_cupy_array
from fastseq._defaults import GATES

LSTM, GRU, RNN = 0, 1, 2
KINDS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
ACTS = {"tanh": 0, "relu": 1}

BT = 4                      # batch rows per thread in the mat-vec (register tile of 4 accumulators)
SMEM_BUDGET = 48 * 1024     # dynamic shared memory per block without the opt-in attribute
DEFAULT_THREADS = 256       # threads per block on a GPU
SIM_THREADS = 32            # threads per block under the simulator (one Python thread each)
TARGET_BLOCKS = 64          # preferred grid size of the persistent kernel (tuned on the GPU later)
MAX_BLOCK_MACS = 1 << 18    # per block and step; above it the cuBLAS path should win (measure!)
POINTWISE_THREADS = 256


# --------------------------------------------------------------------------------------------
# kernels, built once per dtype (the shared-memory dtype and the constants must be compile-time)
# --------------------------------------------------------------------------------------------

def _smem_elements(G, U, PU, K, H, B, nt, has_proj):
    """Dynamic shared memory of the persistent kernel, in elements (same layout as the kernel)."""
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


# The kernels call no device functions: Numba compiles a device function for the *current* device,
# which would make the compile lane (PTX for sm_90 on a machine without a driver) impossible. The
# grid barrier and the mat-vec therefore appear once each, inside a loop over (step, phase).

@functools.lru_cache(maxsize=None)
def _kernels(dt):
    """(persistent, pointwise, commit) CUDA kernels for the numba float type ``dt``."""

    @cuda.jit
    def persistent(kind, act, has_proj, H, xproj, w_hh, b_hh, w_hr, h0, c0, lengths, reverse,
                   gbuf, bar, out, h_n, c_n, U, PU):
        """The whole recurrence in one launch; grid = number of hidden-unit slices (<= SMs).

        Block j owns hidden units [j*U, j*U + U) (all G gates of them) and, with a projection,
        output rows [j*PU, j*PU + PU). gbuf (2 or 3, B*max(H_out, H)) in global memory holds
        h_{t-1} / h_t as flat (B, H_out) rows (slots 0, 1: double buffer) and, with a projection,
        y_t = o*tanh(c_t) as flat (B, H) rows (slot 2). Each step is one phase (two with a
        projection: gates, then h_t = W_hr y_t), and every phase starts with a grid barrier.

        Dynamic shared memory (elements, see _smem_elements): W_hh slice (rows padded to K+32)
        | W_hr slice | b_hh slice | staged h_{t-1} or y_t (B rows, zero rows up to a multiple of
        BT) | x_t slice | pre-activations | reduction partials | cell state slice.
        """
        sm = cuda.shared.array(0, dtype=dt)
        one = dt(1)
        zero = dt(0)
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        blk = cuda.blockIdx.x
        nblk = cuda.gridDim.x
        T = xproj.shape[0]
        B = xproj.shape[1]
        K = w_hh.shape[1]          # H_in = H_out (proj_size or H)
        G = 1
        if kind == LSTM:
            G = 4
        elif kind == GRU:
            G = 3
        R = G * U
        Bp = ((B + BT - 1) // BT) * BT
        nbc = Bp // BT
        nphase = 1
        VK = K
        if has_proj:
            nphase = 2
            if H > K:
                VK = H
        # split factor of each mat-vec: S threads share one (row, BT batch rows) tile; the
        # weight rows are padded so that wst = S (mod 32): the S x (32/S) threads of a warp
        # then read 32 different banks (the staged vector is broadcast)
        S0 = 1
        while S0 * 2 * R * nbc <= nt and S0 * 2 <= K:
            S0 *= 2
        S1 = 1
        while S1 * 2 * PU * nbc <= nt and S1 * 2 <= H:
            S1 *= 2
        wst0 = K + (S0 - K) % 32
        wst1 = H + (S1 - H) % 32
        o_w = 0
        o_wr = o_w + R * (K + 32)
        o_bias = o_wr
        if has_proj:
            o_bias = o_wr + PU * (H + 32)
        o_v = o_bias + R
        o_x = o_v + Bp * VK
        o_pre = o_x + R * B
        o_part = o_pre + max(R, PU) * B
        o_c = o_part + nt * BT
        u0 = blk * U
        p0 = blk * PU
        own0 = u0                  # the h columns this block writes
        nown = U
        if has_proj:
            own0 = p0
            nown = PU

        # once: weights, bias, cell state and this block's columns of h0
        for idx in range(tid, R * K, nt):
            rl = idx // K
            k = idx - rl * K
            g = rl // U
            u = u0 + rl - g * U
            w = zero
            if u < H:
                w = w_hh[g * H + u, k]
            sm[o_w + rl * wst0 + k] = w
        for rl in range(tid, R, nt):
            g = rl // U
            u = u0 + rl - g * U
            w = zero
            if u < H:
                w = b_hh[g * H + u]
            sm[o_bias + rl] = w
        if has_proj:
            for idx in range(tid, PU * H, nt):
                pl = idx // H
                j = idx - pl * H
                w = zero
                if p0 + pl < K:
                    w = w_hr[p0 + pl, j]
                sm[o_wr + pl * wst1 + j] = w
        if kind == LSTM:
            for idx in range(tid, U * B, nt):
                ul = idx // B
                b = idx - ul * B
                w = zero
                if u0 + ul < H:
                    w = c0[b, u0 + ul]
                sm[o_c + idx] = w
        for idx in range(tid, nown * B, nt):
            ol = idx // B
            b = idx - ol * B
            if own0 + ol < K:
                gbuf[0, b * K + own0 + ol] = h0[b, own0 + ol]
        maxlen = 0
        for b in range(B):
            if lengths[b] > maxlen:
                maxlen = lengths[b]

        for it in range(maxlen * nphase):
            s = it // nphase
            phase = it - s * nphase
            if phase == 0:
                # x_t does not depend on h: load this block's slice before the barrier, so the
                # loads overlap the wait (after a block sync: the previous step read sm[o_x])
                cuda.syncthreads()
                for idx in range(tid, R * B, nt):
                    rl = idx // B
                    b = idx - rl * B
                    g = rl // U
                    u = u0 + rl - g * U
                    L = lengths[b]
                    if u < H and s < L:
                        t = s
                        if reverse:
                            t = L - 1 - s
                        sm[o_x + idx] = xproj[t, b, g * H + u]
            # grid-wide barrier: a monotonic arrival counter (no reset, so a fast block cannot
            # overtake a slow one); the fences publish this block's global writes before its
            # arrival and order the reads after it (the pattern cooperative groups use)
            cuda.syncthreads()
            if tid == 0:
                cuda.threadfence()
                cuda.atomic.add(bar, 0, 1)
                target = (it + 1) * nblk
                while cuda.atomic.add(bar, 0, 0) < target:
                    pass
                cuda.threadfence()
            cuda.syncthreads()

            cur = s & 1
            nxt = 1 - cur
            src = cur
            kd = K
            o_wm = o_w
            wst = wst0
            nrows = R
            S = S0
            o_b = o_bias
            if phase == 1:
                src = 2
                kd = H
                o_wm = o_wr
                wst = wst1
                nrows = PU
                S = S1
                o_b = -1
            # stage the vector operand (h_{t-1}, or y_t) as flat (B, kd) rows plus zero rows up
            # to Bp; four independent loads in flight per thread
            n = B * kd
            nP = Bp * kd
            for e0 in range(tid, nP, 4 * nt):
                e1 = e0 + nt
                e2 = e1 + nt
                e3 = e2 + nt
                v0 = zero
                v1 = zero
                v2 = zero
                v3 = zero
                if e0 < n:
                    v0 = gbuf[src, e0]
                if e1 < n:
                    v1 = gbuf[src, e1]
                if e2 < n:
                    v2 = gbuf[src, e2]
                if e3 < n:
                    v3 = gbuf[src, e3]
                sm[o_v + e0] = v0
                if e1 < nP:
                    sm[o_v + e1] = v1
                if e2 < nP:
                    sm[o_v + e2] = v2
                if e3 < nP:
                    sm[o_v + e3] = v3
            cuda.syncthreads()

            # mat-vec: sm[o_pre + r*B + b] = sum_k W[r, k] v[b, k] (+ bias[r]). Tile = (batch
            # chunk, row), rows fastest; a thread takes the BT batch rows of its tile over the
            # k's congruent to its split index (mod S); the S partials are summed by a tree.
            ntiles = nrows * nbc
            for base in range(0, ntiles * S, nt):
                q = base + tid
                tile = q // S
                sp = q - tile * S
                bc = tile // nrows
                rl = tile - bc * nrows
                b0 = bc * BT
                a0 = zero
                a1 = zero
                a2 = zero
                a3 = zero
                if tile < ntiles:
                    wrow = o_wm + rl * wst
                    v0 = o_v + b0 * kd
                    for k in range(sp, kd, S):
                        w = sm[wrow + k]
                        a0 += w * sm[v0 + k]
                        a1 += w * sm[v0 + kd + k]
                        a2 += w * sm[v0 + 2 * kd + k]
                        a3 += w * sm[v0 + 3 * kd + k]
                p = o_part + tid * BT
                if S > 1:
                    sm[p] = a0
                    sm[p + 1] = a1
                    sm[p + 2] = a2
                    sm[p + 3] = a3
                    cuda.syncthreads()
                    step = S // 2
                    while step > 0:
                        if sp < step and tile < ntiles:
                            o = p + step * BT
                            sm[p] += sm[o]
                            sm[p + 1] += sm[o + 1]
                            sm[p + 2] += sm[o + 2]
                            sm[p + 3] += sm[o + 3]
                        cuda.syncthreads()
                        step //= 2
                    a0 = sm[p]
                    a1 = sm[p + 1]
                    a2 = sm[p + 2]
                    a3 = sm[p + 3]
                if sp == 0 and tile < ntiles:
                    bias = zero
                    if o_b >= 0:
                        bias = sm[o_b + rl]
                    dst = o_pre + rl * B + b0
                    sm[dst] = a0 + bias
                    if b0 + 1 < B:
                        sm[dst + 1] = a1 + bias
                    if b0 + 2 < B:
                        sm[dst + 2] = a2 + bias
                    if b0 + 3 < B:
                        sm[dst + 3] = a3 + bias
            cuda.syncthreads()

            if phase == 0:
                # fused gates of this block's units
                for idx in range(tid, U * B, nt):
                    ul = idx // B
                    b = idx - ul * B
                    u = u0 + ul
                    if u < H:
                        L = lengths[b]
                        t = s
                        if reverse:
                            t = L - 1 - s
                        e0 = ul * B + b
                        e1 = (U + ul) * B + b
                        e2 = (2 * U + ul) * B + b
                        e3 = (3 * U + ul) * B + b
                        if kind == LSTM:
                            if s < L:
                                gi = one / (one + math.exp(-(sm[o_x + e0] + sm[o_pre + e0])))
                                gf = one / (one + math.exp(-(sm[o_x + e1] + sm[o_pre + e1])))
                                gg = math.tanh(sm[o_x + e2] + sm[o_pre + e2])
                                go = one / (one + math.exp(-(sm[o_x + e3] + sm[o_pre + e3])))
                                cv = gf * sm[o_c + idx] + gi * gg
                                sm[o_c + idx] = cv
                                y = go * math.tanh(cv)
                                if has_proj:
                                    gbuf[2, b * H + u] = y
                                else:
                                    gbuf[nxt, b * K + u] = y
                                    out[t, b, u] = y
                                    if s == L - 1:
                                        h_n[b, u] = y
                            elif not has_proj:
                                out[s, b, u] = zero
                        else:
                            if s < L:
                                if kind == GRU:
                                    hprev = sm[o_v + b * K + u]
                                    gr = one / (one + math.exp(-(sm[o_x + e0] + sm[o_pre + e0])))
                                    gz = one / (one + math.exp(-(sm[o_x + e1] + sm[o_pre + e1])))
                                    gn = math.tanh(sm[o_x + e2] + gr * sm[o_pre + e2])
                                    hv = gn + gz * (hprev - gn)
                                else:
                                    hv = sm[o_x + e0] + sm[o_pre + e0]
                                    if act == 0:
                                        hv = math.tanh(hv)
                                    elif hv < zero:
                                        hv = zero
                                gbuf[nxt, b * K + u] = hv
                                out[t, b, u] = hv
                                if s == L - 1:
                                    h_n[b, u] = hv
                            else:
                                out[s, b, u] = zero
            else:
                # projection: this block's rows of h_t = W_hr y_t
                for idx in range(tid, PU * B, nt):
                    pl = idx // B
                    b = idx - pl * B
                    pr = p0 + pl
                    if pr < K:
                        L = lengths[b]
                        if s < L:
                            t = s
                            if reverse:
                                t = L - 1 - s
                            hv = sm[o_pre + idx]
                            gbuf[nxt, b * K + pr] = hv
                            out[t, b, pr] = hv
                            if s == L - 1:
                                h_n[b, pr] = hv
                        else:
                            out[s, b, pr] = zero

        # steps that no sequence reaches: zeros in this block's columns; the cell state
        for idx in range(tid, (T - maxlen) * B * nown, nt):
            sb = idx // nown
            ol = idx - sb * nown
            s = maxlen + sb // B
            b = sb - (sb // B) * B
            if own0 + ol < K:
                out[s, b, own0 + ol] = zero
        if kind == LSTM:
            for idx in range(tid, U * B, nt):
                ul = idx // B
                b = idx - ul * B
                if u0 + ul < H:
                    c_n[b, u0 + ul] = sm[o_c + idx]

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

    return persistent, pointwise, commit


def _numba_type(dtype):
    return float32 if np.dtype(dtype) == np.float32 else float64


def kernel_signatures(dtype):
    """{name: (python function, signature)} of every kernel for ``dtype`` (compile lane)."""
    dt = _numba_type(dtype)
    persistent, pointwise, commit = _kernels(dt)
    a1, a2, a3 = dt[::1], dt[:, ::1], dt[:, :, ::1]
    return {
        "persistent": (persistent.py_func,
                       (int64, int64, int64, int64, a3, a2, a1, a2, a2, a2, int64[::1], int64,
                        a2, int32[::1], a3, a2, a2, int64, int64)),
        "pointwise": (pointwise.py_func,
                      (int64, int64, int64, int64, a2, a1, a3, int64, int64[::1], int64,
                       a2, a2, a2, a2, a3, a2)),
        "commit": (commit.py_func, (a2, int64, int64[::1], int64, a2, a3, a2)),
    }


# --------------------------------------------------------------------------------------------
# host side
# --------------------------------------------------------------------------------------------

def _simulator() -> bool:
    return bool(_numba_config.ENABLE_CUDASIM)


def _sm_count(xp) -> int:
    if xp is np:        # the simulator runs blocks one after another: only 1 block may wait
        return 1
    return _device_sm_count(xp.cuda.Device().id)


@functools.lru_cache(maxsize=None)
def _device_sm_count(device_id: int) -> int:
    import cupy
    return int(cupy.cuda.runtime.getDeviceProperties(device_id)["multiProcessorCount"])


_OPTIN_FAILED = set()   # devices where a launch above SMEM_BUDGET failed: stay under it there


@functools.lru_cache(maxsize=None)
def _optin_smem_budget(device_id: int, dtype_name: str) -> int:
    """Raise the persistent kernel's dynamic shared memory limit to the device's opt-in maximum
    (227 KB on H100/H200) and return it; SMEM_BUDGET when that is not possible. This reaches into
    Numba's compiled-kernel object (the same call Numba makes for the carveout attribute)."""
    if device_id in _OPTIN_FAILED:
        return SMEM_BUDGET
    try:
        import cupy
        from numba.cuda.cudadrv.driver import binding, driver
        optin = int(cupy.cuda.runtime.getDeviceProperties(device_id)["sharedMemPerBlockOptin"])
        persistent = _kernels(_numba_type(dtype_name))[0]
        kernel = persistent.compile(kernel_signatures(dtype_name)["persistent"][1])
        cufunc = kernel._codelibrary.get_cufunc()
        attr = binding.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        driver.cuKernelSetAttribute(attr, optin, cufunc.handle, cufunc.device.id)
        return max(optin, SMEM_BUDGET)
    except Exception:
        return SMEM_BUDGET


def plan_persistent(kind, B, H, K, HO, has_proj, itemsize, n_sm, *, units_per_block=None,
                    threads=None, smem_budget=None, max_block_macs=None):
    """Launch plan of the persistent kernel, or None when it should not run.

    Returns dict(blocks, threads, U, PU, smem_bytes, macs). Block j owns U hidden units (and PU
    projection rows); the grid must not exceed ``n_sm`` (every block resident at once, else the
    grid barrier deadlocks). Starting from ``min(n_sm, TARGET_BLOCKS)`` blocks, U shrinks (the
    grid grows) until one block's shared memory fits ``smem_budget`` and its multiply-adds per
    step (G*U*B*K, plus PU*B*H with a projection) are at most ``max_block_macs``; beyond that the
    per-step cuBLAS path is expected to win (docs/rnn_cuda.md, to be confirmed on the GPU).
    """
    G = GATES[kind]
    nt = threads or (SIM_THREADS if _simulator() else DEFAULT_THREADS)
    if nt < 1 or nt & (nt - 1):
        raise ValueError(f"threads: expected a power of two, got {nt}")
    smem_budget = SMEM_BUDGET if smem_budget is None else smem_budget
    max_block_macs = MAX_BLOCK_MACS if max_block_macs is None else max_block_macs

    def make(U):
        blocks = -(-H // U)
        PU = -(-HO // blocks) if has_proj else 0
        smem = _smem_elements(G, U, PU, K, H, B, nt, has_proj) * itemsize
        macs = G * U * B * K + PU * B * H
        return dict(blocks=blocks, threads=nt, U=U, PU=PU, smem_bytes=smem, macs=macs)

    def ok(p):
        return p["blocks"] <= n_sm and p["smem_bytes"] <= smem_budget

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


def _stream(xp):
    if xp is np:
        return 0
    return cuda.external_stream(xp.cuda.get_current_stream().ptr)


def _dev(a, xp):
    """Hand CuPy arrays to Numba without the per-launch stream synchronisation of the CUDA array
    interface (we launch on CuPy's current stream, so ordering already holds)."""
    if xp is np:
        return a
    desc = dict(a.__cuda_array_interface__)
    desc.pop("stream", None)  # no per-array Numba stream object: launches name CuPy's stream
    return cuda.from_cuda_array_interface(desc, owner=a, sync=False)


def recurrence_cuda(kind, xproj, w_hh, b_hh, h0, c0, lengths, reverse, nonlinearity, w_hr, *,
                    path="auto", units_per_block=None, threads=None):
    """Run one layer and direction of a recurrent network over all steps on the GPU.

    kind: "lstm" | "gru" | "rnn"; xproj (T, B, G*H) = x @ W_ih.T + b_ih; w_hh (G*H, H_in);
    b_hh (G*H,); h0 (B, H_out) (None: zeros); c0 (B, H) or None (lstm only; None: zeros);
    lengths (B,) int64 in 1..T; reverse: process each sequence from its own last step down to 0;
    nonlinearity "tanh" | "relu" (rnn); w_hr (proj_size, H) or None (lstm projection).
    Returns (out (T, B, H_out), h_n (B, H_out), c_n (B, H) or None) in the array module of
    ``xproj`` (CuPy; NumPy under the CUDA simulator), its dtype (float32 or float64).
    ``path`` = "auto" | "persistent" | "stepwise"; ``units_per_block`` and ``threads`` override
    the persistent plan (tuning and tests). Inputs are not modified.
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
    persistent, pointwise, commit = _kernels(_numba_type(dtype))
    stream = _stream(xp)
    n_sm = _sm_count(xp)
    d = functools.partial(_dev, xp=xp)

    plan = None
    if path != "stepwise":
        budget = SMEM_BUDGET if xp is np else _optin_smem_budget(xp.cuda.Device().id, dtype.name)
        plan = plan_persistent(kind, B, H, K, HO, has_proj, dtype.itemsize, n_sm,
                               units_per_block=units_per_block, threads=threads,
                               smem_budget=budget)
        if plan is None and path == "persistent":
            raise ValueError(f"path='persistent' does not fit this shape (B={B}, H={H}, "
                             f"{n_sm} SMs, {budget} bytes of shared memory per block)")
    if plan is not None:
        # slots 0, 1: h double buffer; slot 2 (projection only): y = o*tanh(c)
        gbuf = xp.empty((3, B * max(HO, H)) if has_proj else (2, B * HO), dtype=dtype)
        bar = xp.zeros(1, dtype=np.int32)
        c_n_ = c_n if c_n is not None else dummy
        try:
            persistent[plan["blocks"], plan["threads"], stream, plan["smem_bytes"]](
                k, act, int(has_proj), H, d(xproj), d(w_hh), d(b_hh), d(w_hr_), d(h0), d(c0_),
                d(lengths), int(bool(reverse)), d(gbuf), d(bar), d(out), d(h_n), d(c_n_),
                plan["U"], plan["PU"])
            return out, h_n, c_n
        except Exception as exc:
            if xp is np or plan["smem_bytes"] <= SMEM_BUDGET:
                raise
            # the opt-in shared memory limit did not take: never ask for it again here
            warnings.warn(f"persistent recurrence kernel with {plan['smem_bytes']} bytes of "
                          f"shared memory failed to launch ({type(exc).__name__}: {exc}); "
                          f"staying under {SMEM_BUDGET} bytes on this device", RuntimeWarning)
            _OPTIN_FAILED.add(xp.cuda.Device().id)
            _optin_smem_budget.cache_clear()
            return recurrence_cuda(kind, xproj, w_hh, b_hh, h0, c0, lengths, reverse,
                                   nonlinearity, w_hr, path=path,
                                   units_per_block=units_per_block, threads=threads)

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
    return out, h_n, c_n
