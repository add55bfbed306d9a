"""Checks of the arguments of a cell or layer call: the input sequence, the initial state and the
lengths. Every error names the argument, what was expected and what was given.

NaN policy: NaN and Inf in ``x`` or in the initial state are accepted and propagate as in torch,
only into the sequences (batch rows) that hold them; values in the padding of a sequence
(t >= lengths[b]) are never read. Weights, checked once when loaded, must be finite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _backend
from .._validation import check_array


def check_float_input(a, name: str, dtype: np.dtype, ndim):
    """``a`` as a NumPy/CuPy array of the layer's ``dtype`` with one of the allowed ``ndim``.

    Inputs must already have the layer's dtype, as in torch: integer, boolean and complex arrays
    are refused (torch's recurrent modules refuse them too), and so are other float dtypes.
    """
    if a is None:
        raise TypeError(f"{name}: expected an array, got None")
    if not isinstance(a, np.ndarray) and not _backend.is_cupy_array(a):
        try:
            a = np.asarray(a)
        except Exception as exc:
            raise TypeError(f"{name}: expected an array-like of numbers, got {type(a).__name__} "
                            f"({exc})") from None
    if a.dtype.kind in "iubc":
        raise TypeError(f"{name}: expected floating-point values of dtype {dtype} (the layer's "
                        f"dtype), got {a.dtype}; convert them with .astype(np.{dtype})")
    if a.dtype.kind == "f" and a.dtype != dtype:
        hint = (f" or build the layer with dtype={a.dtype}" if a.dtype in (np.float32, np.float64)
                else "")
        raise TypeError(f"{name}: expected dtype {dtype} (the layer's dtype), got {a.dtype}; convert "
                        f"the input with .astype(np.{dtype}){hint}")
    return check_array(a, name, ndim=ndim, dtype=dtype, finite=False)


def unwrap_all(x, hx, lengths):
    """Unwrap torch tensors to arrays; returns (x, hx, lengths, origin of x)."""
    x, origin = _backend.unwrap(x)
    if isinstance(hx, (tuple, list)):
        hx = type(hx)(_backend.unwrap(h)[0] for h in hx)
    elif hx is not None:
        hx, _ = _backend.unwrap(hx)
    if lengths is not None and _backend.is_torch_tensor(lengths):
        lengths, _ = _backend.unwrap(lengths)
    return x, hx, lengths, origin


def check_state(h, name: str, shape: tuple, dtype, xp):
    """One state tensor of the expected ``shape`` (its dtype the layer's), on the namespace ``xp``."""
    h = check_float_input(h, name, dtype, ndim=(0, 1, 2, 3, 4, 5))
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


def prepare_call(module, x, hx, lengths, *, x_name: str, x_ndim: tuple) -> CallInput:
    """The first steps every cell and layer call takes, in this order: unwrap torch tensors, split
    ``hx`` into (h0, c0), resolve the device from ``module.device`` and the arrays, check ``x``
    (``module.dtype``, one of the ``x_ndim`` dimensions, ``module.input_size`` features in the
    last axis; errors name it ``x_name``) and move it to the device. ``x`` is batched when it has
    ``max(x_ndim)`` dimensions."""
    x, hx, lengths, origin = unwrap_all(x, hx, lengths)
    h0, c0 = split_hx(hx, module.kind == "lstm")
    device = _backend.resolve_device(module.device, x, h0, c0)
    xp = _backend.get_namespace(device)
    x = check_float_input(x, x_name, module.dtype, ndim=x_ndim)
    if x.shape[-1] != module.input_size:
        raise ValueError(f"{x_name}: expected {module.input_size} features (input_size) in the "
                         f"last axis, got {x.shape[-1]} (shape {tuple(x.shape)})")
    x = _backend.to_device(x, device)
    return CallInput(x=x, batched=x.ndim == max(x_ndim), h0=h0, c0=c0, lengths=lengths,
                     origin=origin, device=device, xp=xp)


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
