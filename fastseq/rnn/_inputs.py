"""Checks of the arguments of a cell or layer call: the input sequence, the initial state and the
lengths. Every error names the argument, what was expected and what was given.

NaN policy: NaN and Inf in ``x`` or in the initial state are accepted and propagate as in torch,
only into the sequences (batch rows) that hold them; values in the padding of a sequence
(t >= lengths[b]) are never read. Weights, checked once when loaded, must be finite.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from .. import _backend
from .._validation import check_array
from . import _weights


_HINT = {"float32": "x.float() / x.astype(np.float32)", "float64": "x.double() / x.astype(np.float64)",
         "float16": "x.half() / x.astype(np.float16)", "bfloat16": "x.bfloat16()"}


def given_dtype(a) -> str | None:
    """The dtype name of an argument as the caller gave it (torch, NumPy, CuPy or array-like);
    None when it has none (None, ragged or non-numeric data: the later checks say so)."""
    if a is None:
        return None
    dtype = getattr(a, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(a).dtype
        except Exception:
            return None
    return _weights.dtype_name(dtype)


def check_input_dtype(a, name: str, io_dtype: str, layer_dtypes=_weights.IO_DTYPES):
    """Raise unless ``a`` (as given) holds floats of the layer's ``io_dtype``: integers, bools and
    complex numbers are refused as torch refuses them, never converted. ``layer_dtypes``: the
    dtypes such a layer can be built with (the message suggests one only when it is there)."""
    got = given_dtype(a)
    if got is None or got == io_dtype or got in ("object",) or got.startswith(("str", "bytes")):
        return
    if got in _weights.IO_DTYPES:
        rebuild = (f" or build the layer with dtype={got}" if got in layer_dtypes else
                   f" (this layer is built in {' or '.join(layer_dtypes)} only)")
        raise TypeError(f"{name}: expected dtype {io_dtype} (the layer's dtype), got {got}; convert "
                        f"the input ({_HINT[io_dtype]}){rebuild}")
    raise TypeError(f"{name}: expected floating-point values of dtype {io_dtype} (the layer's "
                    f"dtype), got {got}; integer, bool and complex inputs are not converted (torch "
                    f"refuses them too): convert with {_HINT[io_dtype]}")


def check_float_input(a, name: str, dtype: np.dtype, ndim, allow_empty: bool = False):
    """``a`` (unwrapped, its dtype already checked by :func:`check_input_dtype`) as a NumPy/CuPy
    array of the compute ``dtype`` with one of the allowed ``ndim``; half precision is widened."""
    if a is None:
        raise TypeError(f"{name}: expected an array, got None")
    if not isinstance(a, np.ndarray) and not _backend.is_cupy_array(a):
        try:
            a = np.asarray(a)
        except Exception as exc:
            raise TypeError(f"{name}: expected an array-like of numbers, got {type(a).__name__} "
                            f"({exc})") from None
    return check_array(a, name, ndim=ndim, dtype=dtype, finite=False, allow_empty=allow_empty)


def _unwrap(a):
    """A torch tensor as a NumPy/CuPy view (bfloat16, which NumPy lacks, as a float32 copy)."""
    if _backend.is_torch_tensor(a) and str(a.dtype) == "torch.bfloat16":
        a = a.detach().float()
    return _backend.unwrap(a)


def unwrap_all(x, hx, lengths):
    """Unwrap torch tensors to arrays; returns (x, hx, lengths, origin of x)."""
    x, origin = _unwrap(x)
    if isinstance(hx, (tuple, list)):
        hx = type(hx)(_unwrap(h)[0] for h in hx)
    elif hx is not None:
        hx, _ = _unwrap(hx)
    if lengths is not None and _backend.is_torch_tensor(lengths):
        lengths, _ = _backend.unwrap(lengths)
    return x, hx, lengths, origin


def check_state(h, name: str, shape: tuple, dtype, xp):
    """One state tensor of the expected ``shape`` (its dtype the layer's), on the namespace ``xp``."""
    h = check_float_input(h, name, dtype, ndim=(0, 1, 2, 3, 4, 5), allow_empty=True)
    if tuple(h.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(h.shape)}")
    return xp.asarray(h) if xp is not np else _backend.to_host(h)


def split_hx(hx, is_lstm: bool):
    """(h0, c0) from ``hx``: LSTM takes a (h0, c0) pair, GRU/RNN a single tensor."""
    if hx is None:
        return None, None
    if is_lstm:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx: expected a tuple (h0, c0) for an LSTM, got {type(hx).__name__}"
                            + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else ""))
        return hx[0], hx[1]
    if isinstance(hx, (tuple, list)):
        raise TypeError(f"hx: expected a single tensor h0 (only LSTM takes a (h0, c0) tuple), got "
                        f"a {type(hx).__name__} of length {len(hx)}")
    return hx, None


def check_lengths(lengths, batch_size: int, seq_len: int):
    """Lengths as a NumPy (B,) int64 array with every value in 1..T (None: all T)."""
    if lengths is None:
        return np.full(batch_size, seq_len, dtype=np.int64)
    if _backend.is_cupy_array(lengths):
        lengths = _backend.to_host(lengths)
    try:
        arr = np.asarray(lengths)
    except Exception as exc:
        raise TypeError(f"lengths: expected a sequence of integers, got {type(lengths).__name__} "
                        f"({exc})") from None
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) \
                and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"lengths: expected integers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != batch_size:
        raise ValueError(f"lengths: expected shape ({batch_size},) (one length per sequence), got "
                         f"shape {arr.shape}")
    arr = arr.astype(np.int64)
    bad = (arr < 1) | (arr > seq_len)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"lengths: expected every length in 1..{seq_len} (the sequence length T), "
                         f"got lengths[{i}] = {int(arr[i])}")
    return np.ascontiguousarray(arr)


@dataclass
class CallInput:
    """The arguments of one cell or layer call after :func:`prepare_call`."""

    x: object        # checked input on ``device``, still in the caller's layout
    batched: bool    # whether ``x`` has its batch axis
    h0: object       # initial state as given (unwrapped, not yet checked), or None
    c0: object       # LSTM cell state as given, or None
    lengths: object  # as given (torch tensors unwrapped), or None
    origin: object   # the caller's array type, for ``_backend.wrap`` of the results
    device: str      # the resolved device, "cpu" or "cuda"
    xp: object       # its array module (NumPy or CuPy)
    io_dtype: str    # the dtype name the results are handed back in


def hand_back(a, call: CallInput):
    """A result (compute dtype, on the device) in the caller's array type and the io dtype."""
    if call.io_dtype == "float16":
        a = a.astype(np.float16)
    out = _backend.wrap(a, call.origin)
    if call.io_dtype == "bfloat16":  # only torch has it: the input was a torch tensor
        out = out.to(dtype=getattr(sys.modules["torch"], "bfloat16"))
    return out


def prepare_call(module, x, hx, lengths, *, x_name: str, x_ndim: tuple,
                 time_axis: int | None = None) -> CallInput:
    """The first steps every cell and layer call takes, in this order: split ``hx`` into
    (h0, c0), check that ``x`` and the states hold floats of ``module.io_dtype``, unwrap torch
    tensors, resolve the device from ``module.device`` and the arrays, check ``x`` (one of the
    ``x_ndim`` dimensions, at least one step along ``time_axis`` (batched layer input; None for
    a cell), ``module.input_size``
    features in the last axis; errors name it ``x_name``), widen it to ``module.dtype`` and move
    it to the device. ``x`` is batched when it has ``max(x_ndim)`` dimensions; a batch of 0
    sequences is accepted (the results are empty)."""
    h0, c0 = split_hx(hx, module.kind == "lstm")
    check_input_dtype(x, x_name, module.io_dtype)
    for h, name in ((h0, "hx[0]" if module.kind == "lstm" else "hx"), (c0, "hx[1]")):
        check_input_dtype(h, name, module.io_dtype)
    x, hx, lengths, origin = unwrap_all(x, (h0, c0), lengths)
    h0, c0 = hx
    device = _backend.resolve_device(module.device, x, h0, c0)
    xp = _backend.get_namespace(device)
    x = check_float_input(x, x_name, module.dtype, ndim=x_ndim, allow_empty=True)
    if x.shape[-1] != module.input_size:
        raise ValueError(f"{x_name}: expected {module.input_size} features (input_size) in the "
                         f"last axis, got {x.shape[-1]} (shape {tuple(x.shape)})")
    batched = x.ndim == max(x_ndim)
    if x.size == 0 and not (batched and (time_axis is None or x.shape[time_axis] > 0)):
        raise ValueError(f"{x_name}: expected a non-empty array (an empty batch is accepted, no "
                         f"time steps are not), got shape {tuple(x.shape)}")
    x = _backend.to_device(x, device)
    return CallInput(x=x, batched=batched, h0=h0, c0=c0, lengths=lengths,
                     origin=origin, device=device, xp=xp, io_dtype=module.io_dtype)


def initial_states(kind: str, h0, c0, given_lead: tuple, lead: tuple, h_size: int, c_size: int,
                   dtype, xp):
    """(h0, c0) on the array module ``xp``, each of shape ``lead + (size,)``.

    A given state must have the shape ``given_lead + (size,)`` (``lead`` without the batch axis
    for unbatched input) and the layer's dtype; a missing one is zeros. h0 has ``h_size``
    features, c0 (LSTM only, else None) ``c_size``. Errors name them ``hx[0]`` / ``hx[1]`` for an
    LSTM and ``hx`` otherwise.
    """
    h0 = _state_or_zeros(h0, "hx[0]" if kind == "lstm" else "hx", given_lead + (h_size,),
                         lead + (h_size,), dtype, xp)
    if kind == "lstm":
        c0 = _state_or_zeros(c0, "hx[1]", given_lead + (c_size,), lead + (c_size,), dtype, xp)
    return h0, c0


def _state_or_zeros(h, name, given_shape, shape, dtype, xp):
    if h is None:
        return xp.zeros(shape, dtype=dtype)
    return check_state(h, name, given_shape, dtype, xp).reshape(shape)
