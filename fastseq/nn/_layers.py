"""``fastseq.nn.LSTM`` / ``GRU`` / ``RNN``: torch's sequence modules whose CPU forward and
backward run on fastseq's kernels, one :class:`._autograd.LayerDirection` per layer and
direction, composed here (bidirectional outputs concatenated, dropout between layers)."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ._autograd import LayerDirection
from ._checks import check_hidden, check_input, check_lengths

_DTYPES = (torch.float32, torch.float64)


def uses_fastseq_kernels(module, x) -> bool:
    """Whether ``module(x)`` runs on fastseq's kernels (True) or on torch's implementation:
    CPU tensors of float32 or float64, and no LSTM projection (``proj_size``)."""
    if isinstance(x, PackedSequence):
        x = x.data
    weight = next(module.parameters(), None)
    tensors = [x] + ([weight] if weight is not None else [])
    return (all(t.device.type == "cpu" and t.dtype in _DTYPES for t in tensors)
            and not getattr(module, "proj_size", 0))


class _Fused:
    """What the three layers share; the torch parent class comes second in the MRO."""

    kind = ""

    def forward(self, input, hx=None, lengths=None):  # noqa: A002 (torch's argument name)
        """Run the layer: ``input`` (T, B, input_size) or (B, T, ...) with ``batch_first``, or
        (T, input_size) unbatched, or a ``PackedSequence``; ``hx`` as torch's (a tuple (h0, c0)
        for LSTM); ``lengths`` (B,) integers in 1..T. Returns (output, h_n) or
        (output, (h_n, c_n)) as torch's module."""
        packed = isinstance(input, PackedSequence)
        if not uses_fastseq_kernels(self, input):
            if lengths is not None and not packed:
                raise ValueError("lengths: only fastseq's CPU float32/float64 kernels take it; "
                                 "pack the input (torch.nn.utils.rnn.pack_padded_sequence) here")
            return super().forward(input, hx)
        if packed:
            if lengths is not None:
                raise ValueError("lengths: a PackedSequence input carries its own lengths; "
                                 "pass lengths=None")
            x, lengths_t = pad_packed_sequence(input)
            lengths = lengths_t
            batched, batch_first = True, False
        else:
            x = input
            batched, batch_first = input.dim() == 3, self.batch_first
        check_input(x, self.input_size, next(self.parameters()).dtype)
        if not batched:
            x = x.unsqueeze(1)
        elif batch_first:
            x = x.transpose(0, 1)
        T, B = x.shape[0], x.shape[1]
        n_states = self.num_layers * (2 if self.bidirectional else 1)
        h0, c0 = check_hidden(self.kind, hx, n_states, B, self.hidden_size, x, batched)
        lengths = check_lengths(lengths, B, T)
        out, h_n, c_n = _run_stack(self, x, h0, c0, lengths)
        if packed:
            out = pack_padded_sequence(out, torch.from_numpy(lengths), enforce_sorted=False)
        elif not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif batch_first:
            out = out.transpose(0, 1)
        return out, ((h_n, c_n) if self.kind == "lstm" else h_n)


@torch.compiler.disable
def _run_stack(module, x, h0, c0, lengths):
    """(output, h_n, c_n) of every layer and direction; c_n is empty unless LSTM. Kept out of
    torch.compile's graph (the kernels run on NumPy views), which costs one graph break."""
    relu = getattr(module, "nonlinearity", "tanh") == "relu"
    dirs = 2 if module.bidirectional else 1
    layer_input = x
    h_n, c_n = [], []
    for layer in range(module.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            b_ih = getattr(module, "bias_ih" + sfx) if module.bias else None
            b_hh = getattr(module, "bias_hh" + sfx) if module.bias else None
            i = layer * dirs + d
            out, h, c = LayerDirection.apply(
                module.kind, relu, bool(d), layer_input, getattr(module, "weight_ih" + sfx),
                getattr(module, "weight_hh" + sfx), b_ih, b_hh, h0[i],
                None if c0 is None else c0[i], lengths)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_input = torch.cat(outs, 2) if dirs == 2 else outs[0]
        if module.training and module.dropout > 0 and layer < module.num_layers - 1:
            layer_input = torch.nn.functional.dropout(layer_input, module.dropout, True)
    c_n = torch.stack(c_n) if c0 is not None else None
    return layer_input, torch.stack(h_n), c_n


class LSTM(_Fused, torch.nn.LSTM):
    """``torch.nn.LSTM`` trained with fastseq's fused CPU kernels (see :mod:`fastseq.nn`)."""

    kind = "lstm"


class GRU(_Fused, torch.nn.GRU):
    """``torch.nn.GRU`` trained with fastseq's fused CPU kernels (see :mod:`fastseq.nn`)."""

    kind = "gru"


class RNN(_Fused, torch.nn.RNN):
    """``torch.nn.RNN`` (tanh or relu) trained with fastseq's fused CPU kernels."""

    kind = "rnn"
