"""The layer driver. On the GPU: per layer and direction, one input-projection GEMM over all time
steps (CuPy's matmul), then ``recurrence_cuda``. On the CPU: :func:`._stack_cpu.run_stack_cpu`,
which does the same in blocks of time steps on packed weights.

Weights are prepared once per device and cached on the cell or layer (:class:`DeviceWeights`):

- the input weight is stored transposed with ``b_ih`` as an extra row, (I + 1, G*H), and the
  input gets a column of ones, so ``x @ W_ih.T + b_ih`` is one GEMM with no separate pass for the
  bias;
- on the CPU the recurrent weights are packed into the panels the CPU kernel reads
  (:class:`._stack_cpu.PackedUnit`); on the GPU they are CuPy arrays in torch's layout.

Arrays here are time-major (T, B, features) and already validated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _backend


@dataclass
class Unit:
    """The prepared weights of one layer in one direction."""

    w_in: object  # (I + 1, G*H): [W_ih.T; b_ih]
    w_hh: object  # (G*H, H_in)
    b_hh: object  # (G*H,)
    w_hr: object  # (P, H) or None


class DeviceWeights:
    """Prepared weights per device, rebuilt after the weights change (``invalidate``)."""

    def __init__(self):
        self._units = {}

    def invalidate(self):
        self._units = {}

    def units(self, device, weights: dict, suffixes: list, dtype, proj: bool):
        cached = self._units.get(device)
        if cached is None:
            cached = [_prepare(device, weights, s, dtype, proj) for s in suffixes]
            self._units[device] = cached
        return cached


def _prepare(device, weights, sfx, dtype, proj):
    w_ih = weights["weight_ih" + sfx]
    g = w_ih.shape[0]
    b_ih = weights.get("bias_ih" + sfx)
    b_hh = weights.get("bias_hh" + sfx)
    w_in = np.empty((w_ih.shape[1] + 1, g), dtype=dtype)
    w_in[:-1] = w_ih.T
    w_in[-1] = 0 if b_ih is None else b_ih
    b_hh = np.zeros(g, dtype=dtype) if b_hh is None else b_hh
    w_hh = weights["weight_hh" + sfx]
    w_hr = weights["weight_hr" + sfx] if proj else None
    if device == "cuda":
        import cupy
        return Unit(cupy.asarray(w_in), cupy.asarray(w_hh), cupy.asarray(b_hh),
                    None if w_hr is None else cupy.asarray(w_hr))
    from ._stack_cpu import pack_unit
    return pack_unit(w_in, w_hh, b_hh, w_hr, dtype)


def with_ones(xp, parts, T, B, dtype):
    """(T, B, sum(widths) + 1): the parts side by side along the last axis, then a column of ones."""
    width = sum(p.shape[2] for p in parts)
    buf = xp.empty((T, B, width + 1), dtype=dtype)
    col = 0
    for p in parts:
        buf[:, :, col:col + p.shape[2]] = p
        col += p.shape[2]
    buf[:, :, width] = 1
    return buf


def path_summary(device, record):
    """What a call ran, for a layer's ``last_path``: "cpu" on the CPU; on the GPU the CUDA paths
    of its layers and directions (``recurrence_cuda``'s ``record``), distinct ones joined by
    "+" in order ("persistent", "stepwise", "persistent+stepwise")."""
    if device == "cpu":
        return "cpu"
    return "+".join(dict.fromkeys(r["path"] for r in record))


def run_stack(kind, units, x, h0, c0, lengths, num_layers, num_directions, nonlinearity, device,
              record=None):
    """Run all layers and directions.

    x (T, B, I) time-major on the device (any layout); h0 (L*D, B, H_out); c0 (L*D, B, H) for an
    LSTM, else None; lengths (B,) int64 on the device. Returns output (T, B, D*H_out), h_n
    (L*D, B, H_out) and c_n (L*D, B, H) or None, all on the device. On the GPU, ``record`` (a
    list) gets what each layer and direction ran (see ``recurrence_cuda``).
    """
    if device == "cpu":
        from ._stack_cpu import run_stack_cpu
        return run_stack_cpu(kind, units, x, h0, c0, lengths, num_layers, num_directions,
                             nonlinearity)
    from ._recurrence_cuda import recurrence_cuda
    xp = _backend.get_namespace(device)
    T, B, _ = x.shape
    dtype = h0.dtype
    inp = with_ones(xp, [x], T, B, dtype)
    h_n, c_n = [], []
    outs = None
    for layer in range(num_layers):
        outs = []
        flat = inp.reshape(T * B, inp.shape[2])
        for d in range(num_directions):
            i = layer * num_directions + d
            u = units[i]
            xproj = xp.matmul(flat, u.w_in).reshape(T, B, u.w_in.shape[1])
            out, h, c = recurrence_cuda(kind, xproj, u.w_hh, u.b_hh, h0[i],
                                        None if c0 is None else c0[i], lengths, d == 1,
                                        nonlinearity, u.w_hr, record=record)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        if layer + 1 < num_layers:
            inp = with_ones(xp, outs, T, B, dtype)
    output = outs[0] if num_directions == 1 else xp.concatenate(outs, axis=2)
    return output, xp.stack(h_n), (xp.stack(c_n) if kind == "lstm" else None)


def run_cell(kind, unit, x, h0, c0, nonlinearity, device, record=None):
    """One cell step: x (B, I), h0 (B, H), c0 (B, H) or None on the device; returns (h, c or None).
    ``record`` as in :func:`run_stack`."""
    xp = _backend.get_namespace(device)
    B = x.shape[0]
    if device == "cpu":
        from ._stack_cpu import cell_step_cpu
        return cell_step_cpu(kind, unit, x, h0, c0, nonlinearity)
    from ._recurrence_cuda import recurrence_cuda
    x1 = with_ones(xp, [x[None]], 1, B, h0.dtype)[0]
    xproj = xp.matmul(x1, unit.w_in)[None]
    _, h, c = recurrence_cuda(kind, xproj, unit.w_hh, unit.b_hh, h0, c0,
                              xp.ones(B, dtype=np.int64), False, nonlinearity, None,
                              record=record)
    return h, c
