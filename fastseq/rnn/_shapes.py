"""Sizes and shapes of recurrent layers, matching torch: parameter counts, weight names and shapes,
output and hidden-state shapes.

Pure Python (no NumPy, no torch): safe to call anywhere, for example to answer "how many parameters
has a one-layer LSTM from 64 features to 128 units" (99,328) without building one.
"""

from __future__ import annotations

from .._defaults import GATES
from .._validation import check_int


def check_kind(kind) -> str:
    """Normalise ``kind`` ("lstm" | "gru" | "rnn", any case; "rnn_tanh"/"rnn_relu" mean "rnn")."""
    if not isinstance(kind, str):
        raise TypeError(f"kind: expected one of 'lstm', 'gru', 'rnn', got {type(kind).__name__} {kind!r}")
    k = kind.lower()
    if k in ("rnn_tanh", "rnn_relu", "elman"):
        k = "rnn"
    if k not in GATES:
        raise ValueError(f"kind: expected one of 'lstm', 'gru', 'rnn', got {kind!r}")
    return k


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_sizes(kind, input_size, hidden_size, num_layers=1, bidirectional=False, bias=True,
                proj_size=0):
    """Validate the size arguments shared by layers, cells and :func:`param_count`."""
    kind = check_kind(kind)
    input_size = check_int(input_size, "input_size", minimum=1)
    hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
    num_layers = check_int(num_layers, "num_layers", minimum=1)
    bidirectional = check_bool(bidirectional, "bidirectional")
    bias = check_bool(bias, "bias")
    proj_size = check_int(proj_size, "proj_size", minimum=0)
    if proj_size and kind != "lstm":
        raise ValueError(f"proj_size: only LSTM layers have a projection, got proj_size={proj_size} "
                         f"for kind {kind!r}")
    if proj_size >= hidden_size:
        raise ValueError(f"proj_size: expected 0 or a value < hidden_size ({hidden_size}), "
                         f"got {proj_size}")
    return kind, input_size, hidden_size, num_layers, bidirectional, bias, proj_size


def layer_weight_shapes(kind, input_size, hidden_size, num_layers=1, bidirectional=False,
                        bias=True, proj_size=0) -> dict:
    """``{torch parameter name: shape}`` in torch's order (``weight_ih_l0``, ``weight_hh_l0``,
    ``bias_ih_l0``, ``bias_hh_l0``, ``weight_hr_l0``, then ``..._reverse``, then layer 1 ...)."""
    kind, input_size, hidden_size, num_layers, bidirectional, bias, proj_size = check_sizes(
        kind, input_size, hidden_size, num_layers, bidirectional, bias, proj_size)
    g = GATES[kind] * hidden_size
    h_out = proj_size or hidden_size
    n_dir = 2 if bidirectional else 1
    shapes = {}
    for layer in range(num_layers):
        n_in = input_size if layer == 0 else n_dir * h_out
        for d in range(n_dir):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            shapes["weight_ih" + sfx] = (g, n_in)
            shapes["weight_hh" + sfx] = (g, h_out)
            if bias:
                shapes["bias_ih" + sfx] = (g,)
                shapes["bias_hh" + sfx] = (g,)
            if proj_size:
                shapes["weight_hr" + sfx] = (proj_size, hidden_size)
    return shapes


def cell_weight_shapes(kind, input_size, hidden_size, bias=True) -> dict:
    """``{torch parameter name: shape}`` of a cell (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``)."""
    kind, input_size, hidden_size, *_ = check_sizes(kind, input_size, hidden_size, bias=bias)
    g = GATES[kind] * hidden_size
    shapes = {"weight_ih": (g, input_size), "weight_hh": (g, hidden_size)}
    if bias:
        shapes["bias_ih"] = (g,)
        shapes["bias_hh"] = (g,)
    return shapes


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def param_count(kind, input_size, hidden_size, num_layers=1, bidirectional=False, bias=True,
                proj_size=0) -> int:
    """Number of parameters of a torch ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` with these sizes.

    torch's convention: two bias vectors per layer and direction (``bias_ih`` and ``bias_hh``).
    One layer, input 64, hidden 128: LSTM 99,328; GRU 74,496; RNN 24,832.
    """
    shapes = layer_weight_shapes(kind, input_size, hidden_size, num_layers, bidirectional, bias,
                                 proj_size)
    return sum(_size(s) for s in shapes.values())


def output_shape(seq_len, batch_size, hidden_size, *, bidirectional=False, batch_first=False,
                 proj_size=0, batched=True) -> tuple:
    """Shape of a layer's ``output``: (T, B, D*H_out), or (B, T, D*H_out) with ``batch_first``,
    or (T, D*H_out) for an unbatched input. D = 2 if bidirectional else 1, H_out = proj_size or H."""
    seq_len = check_int(seq_len, "seq_len", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
    proj_size = check_int(proj_size, "proj_size", minimum=0)
    width = (2 if check_bool(bidirectional, "bidirectional") else 1) * (proj_size or hidden_size)
    if not check_bool(batched, "batched"):
        return (seq_len, width)
    if check_bool(batch_first, "batch_first"):
        return (batch_size, seq_len, width)
    return (seq_len, batch_size, width)


def hidden_shape(num_layers, batch_size, hidden_size, *, bidirectional=False, proj_size=0,
                 cell=False, batched=True) -> tuple:
    """Shape of ``h_n`` (or, with ``cell=True``, of the LSTM cell state ``c_n``):
    (num_layers*D, B, H_out) with H_out = proj_size or H for h_n and H for c_n; without the B axis
    for an unbatched input. ``batch_first`` never changes it (as in torch)."""
    num_layers = check_int(num_layers, "num_layers", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
    proj_size = check_int(proj_size, "proj_size", minimum=0)
    n_dir = 2 if check_bool(bidirectional, "bidirectional") else 1
    width = hidden_size if check_bool(cell, "cell") else (proj_size or hidden_size)
    if not check_bool(batched, "batched"):
        return (num_layers * n_dir, width)
    return (num_layers * n_dir, batch_size, width)
