"""The layer driver: per layer and direction, one input-projection GEMM over all time steps (CuPy's
matmul on the GPU; on the CPU, row blocks on Numba's workers with BLAS held to one thread, so one
threading system owns the cores for the whole call), then the recurrence kernel of the chosen
backend (``recurrence_cpu`` or its twin ``recurrence_cuda``: same arguments, same results).

Weights are prepared once per device and cached on the cell or layer (:class:`DeviceWeights`):

- the input weight is stored transposed with ``b_ih`` as an extra row, (I + 1, G*H), and the
  input gets a column of ones, so ``x @ W_ih.T + b_ih`` is one GEMM with no separate pass for the
  bias;
- on the CPU the recurrent weights are kept as transposed views of C-contiguous (H_in, G*H) arrays,
  the layout the CPU kernel reads; on the GPU they are CuPy arrays in torch's layout.

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
    # transposed views of C-contiguous transposes: the CPU kernel reads them without copying
    return Unit(w_in, np.ascontiguousarray(w_hh.T).T, np.ascontiguousarray(b_hh),
                None if w_hr is None else np.ascontiguousarray(w_hr.T).T)


def recurrence_for(device):
    """The recurrence kernel of a resolved device."""
    if device == "cuda":
        from ._recurrence_cuda import recurrence_cuda
        return recurrence_cuda
    from ._recurrence_cpu import recurrence_cpu
    return recurrence_cpu


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
        from .._threads import single_threaded_blas
        from ._recurrence_cpu import project
        with single_threaded_blas():  # one threading system (Numba's) for the whole call
            return _run_stack(kind, units, x, h0, c0, lengths, num_layers, num_directions,
                              nonlinearity, device, project)
    xp = _backend.get_namespace(device)
    return _run_stack(kind, units, x, h0, c0, lengths, num_layers, num_directions, nonlinearity,
                      device, xp.matmul, record)


def _run_stack(kind, units, x, h0, c0, lengths, num_layers, num_directions, nonlinearity, device,
               matmul, record=None):
    xp = _backend.get_namespace(device)
    rec = recurrence_for(device)
    if device == "cuda" and record is not None:
        import functools
        rec = functools.partial(rec, record=record)
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
            xproj = matmul(flat, u.w_in).reshape(T, B, u.w_in.shape[1])
            out, h, c = rec(kind, xproj, u.w_hh, u.b_hh, h0[i], None if c0 is None else c0[i],
                            lengths, d == 1, nonlinearity, u.w_hr)
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
    x1 = with_ones(xp, [x[None]], 1, B, h0.dtype)[0]
    lengths = xp.ones(B, dtype=np.int64)
    if device == "cpu":
        from .._threads import single_threaded_blas
        from ._recurrence_cpu import project, recurrence_cpu
        with single_threaded_blas():
            xproj = project(x1, unit.w_in)[None]
            _, h, c = recurrence_cpu(kind, xproj, unit.w_hh, unit.b_hh, h0, c0, lengths, False,
                                     nonlinearity, None)
        return h, c
    xproj = xp.matmul(x1, unit.w_in)[None]
    kw = {} if record is None else {"record": record}
    _, h, c = recurrence_for(device)(kind, xproj, unit.w_hh, unit.b_hh, h0, c0, lengths, False,
                                     nonlinearity, None, **kw)
    return h, c
