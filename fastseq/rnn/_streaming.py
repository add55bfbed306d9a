"""Streaming for the recurrent layers, the interface the convolutions share:
``state = layer.init_state(batch)``, then ``y_t, state = layer.step(x_t, state)`` once per time
step. A step is the layer's own call over a sequence of length 1 from the carried state, so it
gives exactly the whole-sequence numbers. Bidirectional layers cannot stream (their reverse
direction needs the end of the sequence first)."""

from __future__ import annotations

import numpy as np

from .. import _backend
from .._validation import check_int
from ._inputs import check_float_input, check_input_dtype


class RecurrentState:
    """The carried state of a recurrent layer for ``batch`` streams: h (L, B, H_out) and, for an
    LSTM, c (L, B, H), as NumPy arrays; ``t`` counts the steps taken."""

    def __init__(self, owner, batch: int, h, c):
        self.owner, self.batch, self.h, self.c, self.t = owner, batch, h, c, 0

    @property
    def hx(self):
        return self.h if self.c is None else (self.h, self.c)

    def __repr__(self):
        return f"RecurrentState(batch={self.batch}, layers={self.h.shape[0]}, t={self.t})"


def _check_streams(layer):
    if layer.bidirectional:
        raise ValueError(f"step: a bidirectional {type(layer).__name__} cannot stream (its reverse "
                         "direction reads the sequence from its end); build it with "
                         "bidirectional=False")


def init_state(layer, batch: int = 1) -> RecurrentState:
    """Zero states for ``batch`` streams."""
    _check_streams(layer)
    batch = check_int(batch, "batch", minimum=1)
    lead = (layer.num_layers, batch)
    h = np.zeros(lead + (layer.proj_size or layer.hidden_size,), dtype=layer.dtype)
    c = np.zeros(lead + (layer.hidden_size,), dtype=layer.dtype) if layer.kind == "lstm" else None
    return RecurrentState(layer, batch, h, c)


def step(layer, x_t, state):
    """One time step: x_t (B, I) or (I,) -> ``(y_t, state)`` with y_t (B, H_out) or (H_out,) in
    the array type of x_t; the state is updated in place and returned."""
    _check_streams(layer)
    if not isinstance(state, RecurrentState):
        raise TypeError(f"state: expected the RecurrentState of this {type(layer).__name__} (from "
                        f"layer.init_state(batch)), got {type(state).__name__}")
    if state.owner is not layer:
        raise ValueError(f"state: expected a state made by this {type(layer).__name__}'s "
                         "init_state, got one from another layer")
    x, origin = _backend.unwrap(x_t)
    check_input_dtype(x, "x_t", layer.io_dtype)
    x = _backend.to_host(check_float_input(x, "x_t", layer.dtype, ndim=(1, 2)))
    batched = x.ndim == 2
    xb = x if batched else x[None]
    if xb.shape[0] != state.batch:
        raise ValueError(f"x_t: expected a batch of {state.batch} (the state's, from "
                         f"init_state({state.batch})), got {xb.shape[0]}")
    seq = xb[:, None, :] if layer.batch_first else xb[None]
    out, hx = layer(seq, hx=state.hx)
    if state.c is None:
        state.h = hx
    else:
        state.h, state.c = hx
    state.t += 1
    y = out[:, 0] if layer.batch_first else out[0]
    return _backend.wrap(y if batched else y[0], origin), state
