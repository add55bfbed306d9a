"""Single-step cells ``LSTMCell``, ``GRUCell`` and ``RNNCell`` with torch's signatures and weights.

One step is the input GEMM ``x @ W_ih.T + b_ih`` and then the same fused recurrence kernel the
layers use, run for one time step (recurrent product, gates and state update in one kernel).
"""

from __future__ import annotations

from .. import _backend
from . import _driver, _inputs, _shapes, _weights

_TORCH_CLASS = {"lstm": "LSTMCell", "gru": "GRUCell", "rnn": "RNNCell"}


class _Cell(_weights.TorchWeights):
    """Shared implementation; use :class:`LSTMCell`, :class:`GRUCell` or :class:`RNNCell`."""

    kind = ""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, device="auto",
                 dtype=None, random_state=None):
        _, self.input_size, self.hidden_size, *_ = _shapes.check_sizes(
            self.kind, input_size, hidden_size, bias=bias)
        self.bias = bool(bias)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        if not isinstance(device, str) or device not in _backend.DEVICES:
            raise ValueError(f"device: expected one of {_backend.DEVICES}, got {device!r}")
        self.device = device
        self.dtype, self.io_dtype = _weights.resolve_dtype(dtype)
        self._shapes = _shapes.cell_weight_shapes(self.kind, self.input_size, self.hidden_size,
                                                  self.bias)
        self._weights = _weights.init_uniform(self._shapes, self.hidden_size, self.dtype,
                                              random_state)
        self._cache = _driver.DeviceWeights()
        self.last_path = None   # what the last call ran: "cpu", "persistent", "stepwise", ...

    def _suffixes(self):
        return [""]   # a cell's parameters are weight_ih, weight_hh, ... without a layer suffix

    @classmethod
    def from_torch(cls, module, device="auto"):
        """A cell with the sizes and (copied) weights of a torch cell module."""
        state = _weights.module_state(module, (_TORCH_CLASS[cls.kind],), cls.__name__)
        kwargs = {"nonlinearity": module.nonlinearity} if cls.kind == "rnn" else {}
        # torch keeps a truthy non-bool ``bias`` as given; whether the module has biases is what counts
        cell = cls(module.input_size, module.hidden_size, bias="bias_ih" in state, device=device,
                   dtype=_weights.torch_dtype_of(state), **kwargs)
        return cell.load_state_dict(state)

    def __call__(self, x, hx=None):
        """One step.

        Parameters
        ----------
        x : (B, I) or (I,), the cell's dtype; NumPy, CuPy or torch. B may be 0.
        hx : zeros when None; GRU/RNN: h of shape (B, H) ((H,) for a 1-D x); LSTM: a tuple (h, c).

        Returns
        -------
        LSTM: ``(h', c')``; GRU/RNN: ``h'``; shapes like hx, in the array type of ``x``.
        """
        call = _inputs.prepare_call(self, x, hx, None, x_name="input", x_ndim=(1, 2))
        x = call.x if call.batched else call.x[None, :]
        B = x.shape[0]
        h0, c0 = _inputs.initial_states(self.kind, call.h0, call.c0,
                                        (B,) if call.batched else (), (B,), self.hidden_size,
                                        self.hidden_size, self.dtype, call.xp)
        (u,) = self._device_units(call.device)
        record = []
        h, c = _driver.run_cell(self.kind, u, x, h0, c0, self.nonlinearity, call.device, record)
        self.last_path = _driver.path_summary(call.device, record)  # what ran, see the layers
        if not call.batched:
            h = h[0]
            c = None if c is None else c[0]
        if self.kind == "lstm":
            return _inputs.hand_back(h, call), _inputs.hand_back(c, call)
        return _inputs.hand_back(h, call)

    forward = __call__

    def __repr__(self):
        extra = "" if self.kind != "rnn" else f", nonlinearity={self.nonlinearity!r}"
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, bias={self.bias}"
                f"{extra}, dtype={self.io_dtype}, device={self.device!r})")


class LSTMCell(_Cell):
    """One LSTM step, torch's ``nn.LSTMCell(input_size, hidden_size, bias=True)``: weights
    ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias_ih``/``bias_hh`` (4H,), gates i, f, g, o.
    ``cell(x, (h, c))`` returns ``(h', c')``. Keywords: ``device``, ``dtype``, ``random_state``."""

    kind = "lstm"

    def __init__(self, input_size, hidden_size, bias=True, *, device="auto", dtype=None,
                 random_state=None):
        super().__init__(input_size, hidden_size, bias, "tanh", device=device, dtype=dtype,
                         random_state=random_state)


class GRUCell(_Cell):
    """One GRU step, torch's ``nn.GRUCell(input_size, hidden_size, bias=True)``: gates r, z, n,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); ``cell(x, h)`` returns ``h'``."""

    kind = "gru"

    def __init__(self, input_size, hidden_size, bias=True, *, device="auto", dtype=None,
                 random_state=None):
        super().__init__(input_size, hidden_size, bias, "tanh", device=device, dtype=dtype,
                         random_state=random_state)


class RNNCell(_Cell):
    """One Elman step, torch's ``nn.RNNCell(input_size, hidden_size, bias=True,
    nonlinearity='tanh')``: h' = act(W_ih x + b_ih + W_hh h + b_hh); ``cell(x, h)`` returns h'."""

    kind = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, device="auto",
                 dtype=None, random_state=None):
        super().__init__(input_size, hidden_size, bias, nonlinearity, device=device, dtype=dtype,
                         random_state=random_state)
