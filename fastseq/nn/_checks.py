"""Argument checks of the ``fastseq.nn`` modules: errors name the argument, what was expected and
what was given; nothing is modified in place."""

from __future__ import annotations

import numpy as np
import torch


def check_input(x, input_size: int, dtype, name: str = "input", ndim=(2, 3)):
    """``x`` must be a tensor of the parameters' dtype with ``ndim`` dimensions and
    ``input_size`` features in its last axis."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the module's parameters), got "
                        f"{x.dtype}; convert the input or the module (.double() / .float())")
    if x.dim() not in ndim:
        raise ValueError(f"{name}: expected {' or '.join(map(str, ndim))} dimensions, got shape "
                         f"{tuple(x.shape)}")
    if x.shape[-1] != input_size:
        raise ValueError(f"{name}: expected {input_size} features (input_size) in the last axis, "
                         f"got shape {tuple(x.shape)}")


def _state(h, name, lead, size, like, batched):
    shape = lead + (size,) if batched else (lead[0], size) if len(lead) == 2 else (size,)
    if h is None:
        return like.new_zeros(lead + (size,))
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(h).__name__}")
    if h.dtype != like.dtype or h.device != like.device:
        raise TypeError(f"{name}: expected {like.dtype} on {like.device} (as the input), got "
                        f"{h.dtype} on {h.device}")
    if tuple(h.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(h.shape)}")
    return h.reshape(lead + (size,))


def check_hidden(kind, hx, n_states, batch, hidden_size, x, batched):
    """(h0, c0) of shape (n_states, batch, hidden_size) from torch's ``hx`` (a tuple (h0, c0) for
    an LSTM; unbatched input takes states without the batch axis); zeros where absent. c0 is None
    unless ``kind`` is "lstm"."""
    lead = (n_states, batch)
    if kind == "lstm":
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx: expected a tuple (h0, c0) for an LSTM, got {type(hx).__name__}")
        return (_state(hx[0], "hx[0]", lead, hidden_size, x, batched),
                _state(hx[1], "hx[1]", lead, hidden_size, x, batched))
    return _state(hx, "hx", lead, hidden_size, x, batched), None


def check_lengths(lengths, batch: int, seq_len: int) -> np.ndarray:
    """(batch,) int64 NumPy array of lengths in 1..seq_len (all seq_len when None)."""
    if lengths is None:
        return np.full(batch, seq_len, dtype=np.int64)
    if isinstance(lengths, torch.Tensor):
        lengths = lengths.detach().cpu().numpy()
    a = np.asarray(lengths)
    if a.dtype.kind not in "iu":
        raise TypeError(f"lengths: expected integers, got dtype {a.dtype}")
    if a.shape != (batch,):
        raise ValueError(f"lengths: expected shape ({batch},) (one per sequence), got {a.shape}")
    if batch and (a.min() < 1 or a.max() > seq_len):
        raise ValueError(f"lengths: expected values in 1..{seq_len} (the sequence length), got "
                         f"min {a.min()}, max {a.max()}")
    return np.ascontiguousarray(a, dtype=np.int64)
