"""Recurrent sequence models: fused LSTM / GRU / Elman-RNN cells and layers that load torch weights
and give torch's numbers (inference), plus torch-matching size and shape helpers.

- ``LSTM`` / ``GRU`` / ``RNN`` and ``LSTMCell`` / ``GRUCell`` / ``RNNCell``: torch's constructor
  signatures, parameter names and layouts (``from_torch``, ``state_dict``, ``load_state_dict``,
  ``num_parameters``), float32 (default) or float64, NumPy / CuPy / torch inputs (results in the
  same type). ``dropout`` is accepted and ignored (inference only), with a warning.
- ``lengths=`` gives variable-length sequences without packing, with torch's packed-sequence
  results (``enforce_sorted=False``; outputs past each end are zero).
- NaN policy: NaN / Inf in the inputs or initial states propagate as in torch, only into the
  sequences that hold them (padding past ``lengths`` is never read); weights must be finite.
- Accuracy against torch: max abs error <= 2e-5 in float32 (vectorised rational tanh, error
  3.4e-7), <= 1e-11 in float64 (exact ``tanh`` / ``exp``).
- ``param_count``, ``output_shape``, ``hidden_shape``: torch's sizes without building a layer.
"""

from ._cells import GRUCell, LSTMCell, RNNCell
from ._layers import GRU, LSTM, RNN
from ._shapes import hidden_shape, output_shape, param_count

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "hidden_shape", "output_shape",
           "param_count"]
