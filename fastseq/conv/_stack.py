"""What Conv1d and TCN share: the prepared weights of one convolution (:class:`ConvUnit`), the
call prologue, the offline driver, and the streaming state and its step over a stack of units.

Arrays here are NumPy, batch-major (B, C, T), and already validated, except in
:func:`prepare_input` and :func:`check_state`, which do the validating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _backend, _threads
from .._defaults import CPU_TILE_BYTES
from ..rnn._inputs import check_float_input, check_input_dtype
from ..rnn._weights import FULL_DTYPES
from . import _conv_cpu
from ._params import ConvGeometry

# Below this many multiply-adds a call runs on the calling thread: waking Numba's workers costs
# more than the work (tens of microseconds when idle, milliseconds on a loaded machine).
SERIAL_MAX_MACS = 2**18


@dataclass
class ConvUnit:
    """One convolution prepared for the kernels (a Conv1d, or one TCN block)."""

    geometry: ConvGeometry
    w: np.ndarray          # (G, Og_conv, k * Cg): w[g, o, j * Cg + c] = W[g * Og_conv + o, c, j]
    bias: np.ndarray       # (G * Og_conv,), zeros without a bias
    act: int = _conv_cpu.ACT_NONE
    res: int = _conv_cpu.RES_NONE
    w_res: np.ndarray = None   # (C_out, C_in) 1x1 projection of the residual
    b_res: np.ndarray = None   # (C_out,)

    @property
    def out_channels(self) -> int:
        """Channels of the unit's output (half the convolution's outputs when gated)."""
        n = self.w.shape[0] * self.w.shape[1]
        return n // 2 if self.act == _conv_cpu.ACT_GATED else n


def make_unit(geometry, weight, bias, dtype, act=_conv_cpu.ACT_NONE, res=_conv_cpu.RES_NONE,
              w_res=None, b_res=None) -> ConvUnit:
    """Lay torch's weight (C_out, C_in / G, k) out tap-major per group; a missing bias is zeros."""
    c_out, cg, k = weight.shape
    g = geometry.groups
    w = np.ascontiguousarray(weight.reshape(g, c_out // g, cg, k).transpose(0, 1, 3, 2)
                             .reshape(g, c_out // g, k * cg), dtype=dtype)
    b = np.zeros(c_out, dtype=dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    if w_res is not None:
        w_res = np.ascontiguousarray(w_res.reshape(w_res.shape[0], -1), dtype=dtype)
        b_res = (np.zeros(w_res.shape[0], dtype=dtype) if b_res is None
                 else np.ascontiguousarray(b_res, dtype=dtype))
    return ConvUnit(geometry, w, b, act, res, w_res, b_res)


def prepare_input(module, x, in_channels: int, name: str = "x"):
    """Unwrap ``x`` (NumPy or torch), check it ((B, C, T) or (C, T), the module's dtype,
    ``in_channels`` in the channel axis) and return ``(x as C-contiguous (B, C, T), batched,
    origin)``. NaN and Inf propagate to the outputs they reach, as in torch."""
    x, origin = _backend.unwrap(x)
    if module.device == "cuda" or _backend.is_cuda_input(x):
        raise RuntimeError(f"{type(module).__name__} runs on the CPU only so far; got a CUDA "
                           f"input or device={module.device!r}: pass a NumPy array or CPU tensor "
                           "and device='cpu'")
    check_input_dtype(x, name, str(module.dtype), FULL_DTYPES)
    x = check_float_input(x, name, module.dtype, ndim=(2, 3))
    if x.shape[-2] != in_channels:
        raise ValueError(f"{name}: expected {in_channels} channels (in_channels) in axis "
                         f"{x.ndim - 2}, got {x.shape[-2]} (shape {tuple(x.shape)})")
    batched = x.ndim == 3
    x = _backend.to_host(x)
    return np.ascontiguousarray(x if batched else x[None]), batched, origin


def run_unit(unit: ConvUnit, x: np.ndarray) -> np.ndarray:
    """The unit over whole sequences: x (B, C_in, T) -> (B, C_out, T_out)."""
    geo = unit.geometry
    n_batch, _, t_in = x.shape
    t_out = geo.output_length(t_in)
    if t_out < 1:
        raise ValueError(f"x: the kernel spans (kernel_size - 1) * dilation + 1 = {geo.span} "
                         f"samples, more than the padded input's {t_in + geo.pad_left + geo.pad_right}"
                         f" (T = {t_in}, padding {geo.pad_left} + {geo.pad_right})")
    out = np.empty((n_batch, unit.out_channels, t_out), dtype=x.dtype)
    tile = _conv_cpu.time_tile(t_out, n_batch, unit.w.shape[2], x.dtype.itemsize,
                               _threads.n_workers(), CPU_TILE_BYTES)
    w_res = unit.w_res if unit.w_res is not None else np.zeros((1, 1), dtype=x.dtype)
    b_res = unit.b_res if unit.b_res is not None else np.zeros(1, dtype=x.dtype)
    args = (x, unit.w, unit.bias, w_res, b_res, out, geo.stride, geo.dilation, geo.pad_left,
            geo.kernel_size, tile, unit.act, unit.res)
    macs = out.size * unit.w.shape[2] * (2 if unit.act == _conv_cpu.ACT_GATED else 1)
    # BLAS held to one thread on both paths: each job's product is small, and BLAS threads of
    # their own would fight Numba's workers (or, on the serial path, spin on a busy machine)
    with _threads.single_threaded_blas():
        if macs < SERIAL_MAX_MACS or _threads.n_workers() == 1:
            _conv_cpu.conv_block_serial(*args)
        else:
            _conv_cpu.conv_block_cpu(*args)
    return out


# ---- streaming --------------------------------------------------------------------------------
@dataclass
class StreamPlan:
    """The units of a causal stack packed into flat arrays for :func:`_conv_cpu.stream_step_cpu`."""

    meta: np.ndarray      # (L, 8) int64
    w_flat: np.ndarray
    w_off: np.ndarray
    b_flat: np.ndarray
    r_flat: np.ndarray
    r_off: np.ndarray
    rb_flat: np.ndarray
    spans: list           # (k - 1) * d per unit: ring buffer slots
    in_channels: list
    scratch_width: int
    out_channels: int


def pack(units, dtype) -> StreamPlan:
    meta, w_parts, w_off, b_parts, r_parts, r_off, rb_parts = [], [], [], [], [], [], []
    w_at = r_at = 0
    width = 0
    for u in units:
        geo = u.geometry
        meta.append((geo.in_channels, u.w.shape[0] * u.w.shape[1], u.out_channels,
                     geo.kernel_size, geo.dilation, geo.groups, u.act, u.res))
        w_off.append(w_at)
        w_parts.append(u.w.ravel())
        w_at += u.w.size
        b_parts.append(u.bias)
        r_off.append(r_at)
        if u.res == _conv_cpu.RES_PROJECT:
            r_parts.append(u.w_res.ravel())
            rb_parts.append(u.b_res)
            r_at += u.w_res.size
        width = max(width, max(u.out_channels, geo.in_channels)
                    + geo.kernel_size * geo.in_channels)

    def flat(parts):
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(1), dtype=dtype)

    return StreamPlan(np.asarray(meta, dtype=np.int64), flat(w_parts),
                      np.asarray(w_off, dtype=np.int64), flat(b_parts), flat(r_parts),
                      np.asarray(r_off, dtype=np.int64), flat(rb_parts),
                      [(u.geometry.kernel_size - 1) * u.geometry.dilation for u in units],
                      [u.geometry.in_channels for u in units], width, units[-1].out_channels)


class StreamState:
    """The streaming state of a causal Conv1d or TCN for ``batch`` sequences: per layer a ring
    buffer of its last (k - 1) * dilation inputs (zeros at the start, as the causal padding) and
    the index of the oldest slot. Made by ``layer.init_state(batch)``; ``layer.step`` updates it
    in place and returns it. ``t`` counts the steps taken."""

    def __init__(self, owner, plan: StreamPlan, batch: int, dtype):
        self.owner = owner
        self.batch = batch
        self.dtype = np.dtype(dtype)
        sizes = [batch * s * c for s, c in zip(plan.spans, plan.in_channels)]
        self.buf_off = np.asarray(np.cumsum([0] + sizes[:-1]), dtype=np.int64)
        self.buffers = np.zeros(max(1, sum(sizes)), dtype=dtype)
        self.pos = np.zeros(len(sizes), dtype=np.int64)
        self.scratch = np.zeros((2, batch, plan.scratch_width), dtype=dtype)
        self.t = 0

    def __repr__(self):
        return (f"StreamState(batch={self.batch}, layers={len(self.pos)}, t={self.t}, "
                f"dtype={self.dtype})")


def check_batch(batch) -> int:
    from .._validation import check_int
    return check_int(batch, "batch", minimum=1)


def check_state(state, owner, module) -> StreamState:
    if not isinstance(state, StreamState):
        raise TypeError(f"state: expected the StreamState of this {type(module).__name__} "
                        f"(from layer.init_state(batch)), got {type(state).__name__}")
    if state.owner is not owner:
        raise ValueError(f"state: expected a state made by this {type(module).__name__}'s "
                         "init_state, got one from another layer")
    return state


def step(module, plan: StreamPlan, state: StreamState, x_t, in_channels: int):
    """One streaming step: x_t (B, C_in) or (C_in,) -> (y_t (B, C_out) or (C_out,), state)."""
    x, origin = _backend.unwrap(x_t)
    if not isinstance(x, np.ndarray) or x.dtype != module.dtype:
        check_input_dtype(x, "x_t", str(module.dtype), FULL_DTYPES)
        x = check_float_input(x, "x_t", module.dtype, ndim=(1, 2))
    if x.ndim not in (1, 2):
        raise ValueError(f"x_t: expected a 1-D (C,) or 2-D (B, C) array, got shape {x.shape}")
    batched = x.ndim == 2
    xb = x if batched else x[None]
    if xb.shape[1] != in_channels:
        raise ValueError(f"x_t: expected {in_channels} channels (in_channels) in the last axis, "
                         f"got {xb.shape[1]} (shape {tuple(x.shape)})")
    if xb.shape[0] != state.batch:
        raise ValueError(f"x_t: expected a batch of {state.batch} (the state's, from "
                         f"init_state({state.batch})), got {xb.shape[0]}")
    out = np.empty((state.batch, plan.out_channels), dtype=module.dtype)
    _conv_cpu.stream_step_cpu(xb, plan.meta, plan.w_flat, plan.w_off, plan.b_flat, plan.r_flat,
                              plan.r_off, plan.rb_flat, state.buffers, state.buf_off, state.pos,
                              state.scratch, out)
    state.t += 1
    y = out if batched else out[0]
    return (y if origin.kind == "numpy" else _backend.wrap(y, origin)), state
