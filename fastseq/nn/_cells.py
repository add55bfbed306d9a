"""``fastseq.nn.LSTMCell`` / ``GRUCell`` / ``RNNCell``: torch's cells whose CPU forward and
backward run on fastseq's kernels (one time step of :class:`._autograd.LayerDirection`)."""

from __future__ import annotations

import numpy as np
import torch

from ._autograd import LayerDirection
from ._checks import check_hidden, check_input
from ._layers import uses_fastseq_kernels


class _FusedCell:
    kind = ""

    def forward(self, input, hx=None):  # noqa: A002 (torch's argument name)
        """One step: ``input`` (B, input_size) or (input_size,); ``hx`` as torch's cell takes
        it. Returns h' (B, H), or (h', c') for an LSTM cell, as torch's."""
        if not uses_fastseq_kernels(self, input):
            return super().forward(input, hx)
        check_input(input, self.input_size, self.weight_ih.dtype, ndim=(1, 2))
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        B = x.shape[0]
        if self.kind == "lstm" and hx is not None and isinstance(hx, (tuple, list)):
            hx = tuple(None if h is None else (h if batched else h.unsqueeze(0)).unsqueeze(0)
                       for h in hx)
        elif hx is not None and isinstance(hx, torch.Tensor):
            hx = (hx if batched else hx.unsqueeze(0)).unsqueeze(0)
        h0, c0 = check_hidden(self.kind, hx, 1, B, self.hidden_size, x, True)
        _, h, c = _step(self, x, h0[0], None if c0 is None else c0[0])
        if not batched:
            h, c = h[0], (c[0] if c0 is not None else c)
        return (h, c) if self.kind == "lstm" else h


@torch.compiler.disable
def _step(cell, x, h0, c0):
    relu = getattr(cell, "nonlinearity", "tanh") == "relu"
    lengths = np.ones(x.shape[0], dtype=np.int64)
    return LayerDirection.apply(cell.kind, relu, False, x.unsqueeze(0), cell.weight_ih,
                                cell.weight_hh, cell.bias_ih if cell.bias else None,
                                cell.bias_hh if cell.bias else None, h0, c0, lengths)


class LSTMCell(_FusedCell, torch.nn.LSTMCell):
    """``torch.nn.LSTMCell`` on fastseq's fused CPU kernels."""

    kind = "lstm"


class GRUCell(_FusedCell, torch.nn.GRUCell):
    """``torch.nn.GRUCell`` on fastseq's fused CPU kernels."""

    kind = "gru"


class RNNCell(_FusedCell, torch.nn.RNNCell):
    """``torch.nn.RNNCell`` (tanh or relu) on fastseq's fused CPU kernels."""

    kind = "rnn"
