"""The persistent CUDA recurrence kernel: one launch runs all time steps of one layer and direction.

Each thread block owns a slice of hidden units (all gates of those units), keeps that slice of
``W_hh`` (and of ``W_hr`` with a projection) in shared memory for all T steps, keeps its slice of
the LSTM cell state in shared memory, and exchanges the hidden state through a double-buffered
global array with a grid-wide barrier (atomic arrival counter) between steps. The grid never
exceeds the number of SMs nor the occupancy API's co-resident limit
(``_cuda_plan.plan_persistent``), and it is launched cooperatively, so the driver refuses a grid
that cannot be resident at once instead of the barrier waiting forever.
Design: ``docs/rnn_cuda.md``; the launch: ``_recurrence_cuda.recurrence_cuda``.

The kernel calls no device functions: Numba compiles a device function for the *current* device,
which would make the compile lane (PTX for sm_90 on a machine without a driver) impossible. The
grid barrier and the mat-vec therefore appear once each, inside a loop over (step, phase).
"""

from __future__ import annotations

import functools
import math

from numba import cuda, int32, int64, uint32

from .._defaults import GATES
from ._cuda_plan import BT, GRU, LSTM

# gate counts as plain ints: Numba freezes them into the kernel as compile-time constants
LSTM_GATES, GRU_GATES, RNN_GATES = GATES["lstm"], GATES["gru"], GATES["rnn"]
# back-off of the barrier's spin, in nanoseconds (a step is a few microseconds)
SPIN_MIN_NS, SPIN_MAX_NS = 32, 256


@functools.lru_cache(maxsize=None)
def persistent_kernel(dt):
    """The persistent kernel for the numba float type ``dt`` (float32 or float64), built once per
    type: the shared-memory dtype and the constants must be known at compile time."""

    @cuda.jit
    def persistent(kind, act, has_proj, H, xproj, w_hh, b_hh, w_hr, h0, c0, lengths, reverse,
                   gbuf, bar, out, h_n, c_n, U, PU):
        """The whole recurrence in one launch; grid = number of hidden-unit slices (<= SMs).

        Arguments (dtype ``dt`` unless said otherwise; K = H_out = proj_size or H): kind, act
        (codes of ``_cuda_plan.KINDS`` / ``ACTS``), has_proj (0/1), H; xproj (T, B, G*H);
        w_hh (G*H, K); b_hh (G*H,); w_hr (K, H) with a projection, else any (1, 1) array; h0
        (B, K); c0 (B, H) for an LSTM, else any (1, 1) array; lengths (B,) int64 in 1..T;
        reverse (0/1); gbuf (see below); bar (1,) int32, zero at launch; outputs out (T, B, K),
        h_n (B, K), c_n (B, H) (LSTM; else any (1, 1) array); U, PU from the launch plan.

        Block j owns hidden units [j*U, j*U + U) (all G gates of them) and, with a projection,
        output rows [j*PU, j*PU + PU). gbuf (2 or 3, B*max(H_out, H)) in global memory holds
        h_{t-1} / h_t as flat (B, H_out) rows (slots 0, 1: double buffer) and, with a projection,
        y_t = o*tanh(c_t) as flat (B, H) rows (slot 2). Each step is one phase (two with a
        projection: gates, then h_t = W_hr y_t), and every phase starts with a grid barrier.

        Dynamic shared memory (elements, counted by ``_cuda_plan.persistent_smem_elements``):
        W_hh slice (rows padded to K+32) | W_hr slice | b_hh slice | staged h_{t-1} or y_t
        (B rows, zero rows up to a multiple of BT) | x_t slice | pre-activations | reduction
        partials | cell state slice.
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
        G = RNN_GATES
        if kind == LSTM:
            G = LSTM_GATES
        elif kind == GRU:
            G = GRU_GATES
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
            # arrival and order the reads after it (the pattern cooperative groups use). The
            # launch is cooperative, so every block is resident; the waiting thread backs off
            # (nanosleep, doubling up to SPIN_MAX_NS) instead of hammering the counter's line.
            cuda.syncthreads()
            if tid == 0:
                cuda.threadfence()
                cuda.atomic.add(bar, 0, 1)
                target = (it + 1) * nblk
                ns = SPIN_MIN_NS
                while cuda.atomic.add(bar, 0, 0) < target:
                    cuda.nanosleep(uint32(ns))
                    if ns < SPIN_MAX_NS:
                        ns *= 2
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

    return persistent


def persistent_signature(dt):
    """Argument types of the persistent kernel for the numba float type ``dt`` (compile lane)."""
    a1, a2, a3 = dt[::1], dt[:, ::1], dt[:, :, ::1]
    return (int64, int64, int64, int64, a3, a2, a1, a2, a2, a2, int64[::1], int64,
            a2, int32[::1], a3, a2, a2, int64, int64)
