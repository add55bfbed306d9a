"""torch modules that train with fastseq's fused CPU kernels: ``LSTM``, ``GRU``, ``RNN``,
``LSTMCell``, ``GRUCell``, ``RNNCell``.

Each is a subclass of the torch module of the same name: the same constructor, parameter names
and shapes (``load_state_dict`` works both ways), and ``forward`` returns what torch's returns.
Layers also take ``lengths=`` (B,) for variable-length sequences without packing (outputs past a
sequence's end are zero, ``h_n`` / ``c_n`` are each sequence's state at its own last step, as
torch's packed-sequence results); a ``PackedSequence`` input gives a ``PackedSequence`` output.

The forward keeps the gate activations and states the backward needs, and the backward is a
fused reverse time loop (``fastseq/rnn/_train_cpu.py``, ``_backward_cpu.py``). Calls the kernels
do not cover -- tensors on a GPU, dtypes other than float32 / float64, LSTM ``proj_size`` --
run torch's own implementation of the parent class (:func:`uses_fastseq_kernels` says which).
Between-layer dropout in ``train()`` mode is torch's (``torch.nn.functional.dropout``).

torch is optional for fastseq as a whole: install it with ``pip install fastseq[torch]``.
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("fastseq.nn needs torch, which is not installed: "
                      "pip install fastseq[torch]") from exc

from ._cells import GRUCell, LSTMCell, RNNCell
from ._layers import GRU, LSTM, RNN, uses_fastseq_kernels

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "uses_fastseq_kernels"]
