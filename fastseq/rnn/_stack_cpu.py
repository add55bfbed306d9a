"""The CPU layer driver: all layers and directions of a recurrent stack, in blocks of time steps.

Per layer and direction, the time axis is cut into blocks whose input projection fits
``RNN_PROJECTION_BLOCK_BYTES``; for each block (in reverse order for the reverse direction) the
projection ``[x_t, 1] @ [W_ih.T; b_ih]`` is one GEMM over the block's steps (fixed row blocks on
Numba's workers, BLAS held to one thread), then :func:`._recurrence_cpu.run_block` runs the
block's steps, carrying the state (h, c) to the next block. So memory beyond the output is one
block's projection, whatever T; and the outputs of both directions are written straight into
the (T, B, D*H_out) result.

Weights are packed once per layer (:class:`PackedUnit`, cached on the layer by
``_driver.DeviceWeights``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._defaults import RNN_PROJECTION_BLOCK_BYTES, RNN_PROJECTION_GEMM_ROWS
from .._threads import n_workers, single_threaded_blas
from ._packed_product import pack_recurrent
from ._recurrence_cpu import project_packed, project_parallel, run_block


@dataclass
class PackedUnit:
    """One layer direction's weights in the CPU kernels' layouts."""

    w_in: np.ndarray     # (I + 1, G*H): [W_ih.T; b_ih]
    panels: np.ndarray   # packed W_hh (see pack_recurrent)
    bias: np.ndarray     # b_hh, padded like the panels
    w_hr_t: object       # (H, P) C-contiguous LSTM projection, or None
    state_width: int     # P = proj_size or H
    _input_panels: tuple = None

    def input_panels(self):
        """(panels, bias) of [W_ih, b_ih] packed like W_hh, for cell steps (packed on first use)."""
        if self._input_panels is None:
            w_ih = self.w_in[:-1].T
            self._input_panels = pack_recurrent(w_ih, self.w_in[-1], self.w_in.dtype)
        return self._input_panels


def pack_unit(w_in, w_hh, b_hh, w_hr, dtype):
    """A :class:`PackedUnit` from w_in (I + 1, G*H), w_hh (G*H, P), b_hh (G*H,) and w_hr (P, H)
    or None."""
    panels, bias = pack_recurrent(w_hh, b_hh, dtype)
    w_hr_t = None if w_hr is None else np.ascontiguousarray(np.asarray(w_hr, dtype=dtype).T)
    return PackedUnit(w_in, panels, bias, w_hr_t, w_hh.shape[1])


def project(x, w):
    """x @ w (x (M, K), w (K, N), C-contiguous) in fixed row blocks on Numba's workers; call
    inside :func:`single_threaded_blas`."""
    if x.shape[0] <= RNN_PROJECTION_GEMM_ROWS:
        return x @ w
    out = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)
    project_parallel(x, w, out, RNN_PROJECTION_GEMM_ROWS)
    return out


def cell_step_cpu(kind, unit, x, h0, c0, nonlinearity):
    """One cell step on the CPU: x (B, I), h0 (B, H), c0 (B, H) or None, NumPy of the unit's
    dtype (any layout). Returns (h, c or None), new arrays. The input product runs on the
    packed W_ih (no GEMM call), the step as one block of one time step."""
    B = x.shape[0]
    H = unit.state_width
    in_panels, in_bias = unit.input_panels()
    xproj = np.empty((1, B, in_bias.shape[0]), dtype=h0.dtype)
    project_packed(x, in_panels, in_bias, xproj[0])
    h = np.zeros((B, unit.panels.shape[1]), dtype=h0.dtype)  # padded like W_hh's rows
    h[:, :H] = h0
    c = None if c0 is None else np.array(c0, dtype=h0.dtype, order="C")
    out = np.empty((1, B, H), dtype=h0.dtype)
    run_block(kind, xproj, 0, unit, h, c, np.ones(B, dtype=np.int64), False,
              nonlinearity == "relu", out, n_workers())
    return out[0], c


def block_steps(batch, width, itemsize, T):
    """Time steps per projection block: the (steps, batch, width) projection within budget."""
    return max(1, min(T, RNN_PROJECTION_BLOCK_BYTES // max(1, batch * width * itemsize)))


def _inputs_with_ones(parts, t0, t1, B, dtype):
    """(t1 - t0) * B rows of [parts side by side, 1]: the block's GEMM operand."""
    width = sum(p.shape[2] for p in parts)
    buf = np.empty((t1 - t0, B, width + 1), dtype=dtype)
    col = 0
    for p in parts:
        buf[:, :, col:col + p.shape[2]] = p[t0:t1]
        col += p.shape[2]
    buf[:, :, width] = 1
    return buf.reshape((t1 - t0) * B, width + 1)


def run_stack_cpu(kind, units, x, h0, c0, lengths, num_layers, num_directions, nonlinearity):
    """Run all layers and directions on the CPU.

    x (T, B, I) time-major NumPy (any layout); units: PackedUnit per (layer, direction); h0
    (L*D, B, P); c0 (L*D, B, H) for an LSTM, else None; lengths (B,) int64 in 1..T. Returns
    output (T, B, D*P) (zeros at t >= lengths[b]), h_n (L*D, B, P), c_n (L*D, B, H) or None.
    """
    T, B, _ = x.shape
    dtype = h0.dtype
    relu = nonlinearity == "relu"
    longest = int(lengths.max()) if B else 0
    full = B == 0 or int(lengths.min()) == T
    n_threads = n_workers()
    parts = [x]
    h_n, c_n = [], []
    with single_threaded_blas():  # one threading system (Numba's) for the whole call
        for layer in range(num_layers):
            P = units[layer * num_directions].state_width
            output = (np.empty if full else np.zeros)((T, B, num_directions * P), dtype=dtype)
            for d in range(num_directions):
                i = layer * num_directions + d
                u = units[i]
                h = np.zeros((B, u.panels.shape[1]), dtype=dtype)  # padded like W_hh's rows
                h[:, :P] = h0[i]
                c = None if c0 is None else np.array(c0[i], dtype=dtype, order="C")
                out = output[:, :, d * P:(d + 1) * P]
                steps = block_steps(B, u.w_in.shape[1], dtype.itemsize, T)
                starts = list(range(0, longest, steps))
                for t0 in (reversed(starts) if d == 1 else starts):
                    t1 = min(T, t0 + steps)
                    xin = _inputs_with_ones(parts, t0, t1, B, dtype)
                    xproj = project(xin, u.w_in).reshape(t1 - t0, B, u.w_in.shape[1])
                    run_block(kind, xproj, t0, u, h, c, lengths, d == 1, relu, out, n_threads)
                h_n.append(h[:, :P])
                c_n.append(c)
            parts = [output]
    return output, np.stack(h_n), (np.stack(c_n) if kind == "lstm" else None)
