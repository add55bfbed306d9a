"""Sequence layers ``LSTM``, ``GRU`` and ``RNN``: torch's constructor signatures, weight names and
output shapes, for inference.

A call validates its arguments, resolves the device, runs :func:`._driver.run_stack` and hands the
results back in the caller's array type (NumPy, CuPy or torch, through DLPack).
"""

from __future__ import annotations

import warnings

from .. import _backend
from .._validation import check_float
from . import _driver, _inputs, _packed, _shapes, _streaming, _weights

_TORCH_CLASS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


class _Layer(_weights.TorchWeights):
    """Shared implementation; use :class:`LSTM`, :class:`GRU` or :class:`RNN`."""

    kind = ""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, nonlinearity="tanh", *,
                 device="auto", dtype=None, random_state=None):
        (_, self.input_size, self.hidden_size, self.num_layers, self.bidirectional, self.bias,
         self.proj_size) = _shapes.check_sizes(self.kind, input_size, hidden_size, num_layers,
                                               bidirectional, bias, proj_size)
        self.batch_first = _shapes.check_bool(batch_first, "batch_first")
        self.dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0)
        if self.dropout > 0:
            warnings.warn(f"dropout={self.dropout} is ignored: fastseq layers run inference only, "
                          "where torch applies no dropout either (a torch module in eval mode "
                          "gives the same numbers)", UserWarning, stacklevel=3)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        if nonlinearity != "tanh" and self.kind != "rnn":
            raise ValueError(f"nonlinearity: only RNN layers take one, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        if not isinstance(device, str) or device not in _backend.DEVICES:
            raise ValueError(f"device: expected one of {_backend.DEVICES}, got {device!r}")
        self.device = device
        self.dtype, self.io_dtype = _weights.resolve_dtype(dtype)
        self._shapes = _shapes.layer_weight_shapes(self.kind, self.input_size, self.hidden_size,
                                                   self.num_layers, self.bidirectional, self.bias,
                                                   self.proj_size)
        self._weights = _weights.init_uniform(self._shapes, self.hidden_size, self.dtype,
                                              random_state)
        self._cache = _driver.DeviceWeights()
        self.last_path = None   # what the last call ran: "cpu", "persistent", "stepwise", ...

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _h_out(self) -> int:
        return self.proj_size or self.hidden_size

    @property
    def _projection(self) -> bool:
        return bool(self.proj_size)

    def _suffixes(self):
        return [f"_l{layer}" + ("_reverse" if d else "") for layer in range(self.num_layers)
                for d in range(self.num_directions)]

    @classmethod
    def from_torch(cls, module, device="auto"):
        """A layer with the hyperparameters and (copied) weights of a torch module; the module
        is not held. The dtype is the module's (float32, float64, float16 or bfloat16);
        parametrized weights (``weight_norm``) are read as the module computes them."""
        state = _weights.module_state(module, (_TORCH_CLASS[cls.kind],), cls.__name__)
        dtype = _weights.torch_dtype_of(state)
        kwargs = dict(num_layers=module.num_layers, bias="bias_ih_l0" in state,
                      batch_first=module.batch_first,
                      dropout=float(module.dropout), bidirectional=module.bidirectional)
        if cls.kind == "lstm":
            kwargs["proj_size"] = module.proj_size
        if cls.kind == "rnn":
            kwargs["nonlinearity"] = module.nonlinearity
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            layer = cls(module.input_size, module.hidden_size, device=device, dtype=dtype, **kwargs)
        if layer.dropout > 0:
            warnings.warn(f"from_torch: the module's dropout={layer.dropout} is ignored (inference "
                          "only; compare with the torch module in eval mode)", UserWarning,
                          stacklevel=2)
        return layer.load_state_dict(state)

    # ---- forward -----------------------------------------------------------------------------
    def __call__(self, x, hx=None, lengths=None):
        """Run the layer over whole sequences.

        Parameters
        ----------
        x : (T, B, I), or (B, T, I) with ``batch_first``, or (T, I) unbatched; the layer's dtype
            (float32 by default); NumPy, CuPy or torch (CPU or CUDA). B may be 0 (empty
            results), T may not. Or a torch ``PackedSequence`` (``batch_first`` does not apply
            to it), which carries its own lengths: the output is then a PackedSequence laid out
            like ``x``, as torch's modules return it.
        hx : initial state, zeros when None. GRU/RNN: h0 of shape (L*D, B, H_out); LSTM: a tuple
            (h0, c0) with c0 of shape (L*D, B, H). Without the B axis for unbatched input.
            L = num_layers, D = 2 if bidirectional else 1, H_out = proj_size or hidden_size.
        lengths : (B,) integers in 1..T, the length of each sequence (None: all T). Outputs at
            t >= lengths[b] are zero, h_n holds each sequence's state after its own last step and
            the reverse direction starts at each sequence's own end: torch's
            ``pack_padded_sequence(..., enforce_sorted=False)`` followed by
            ``pad_packed_sequence(..., total_length=T)``.

        Returns
        -------
        ``(output, h_n)`` for GRU/RNN, ``(output, (h_n, c_n))`` for LSTM. output (T, B, D*H_out)
        (a (B, T, D*H_out) transposed view with ``batch_first``, as torch returns), h_n
        (L*D, B, H_out), c_n (L*D, B, H); in the array type and dtype of ``x``. NaN in a
        sequence propagates to that sequence's outputs only.
        """
        if _packed.is_packed_sequence(x):
            if lengths is not None:
                raise ValueError("lengths: expected None with a PackedSequence input (it carries "
                                 f"its own lengths), got {type(lengths).__name__}")
            padded, lengths, rows = _packed.unpack(x)
            output, state = self._run(padded, hx, lengths, batch_first=False)
            return _packed.repack(output, x, rows), state
        return self._run(x, hx, lengths, self.batch_first)

    def _run(self, x, hx, lengths, batch_first):
        call = _inputs.prepare_call(self, x, hx, lengths, x_name="x", x_ndim=(2, 3),
                                    time_axis=1 if batch_first else 0)
        x, batched, xp = call.x, call.batched, call.xp
        if not batched:
            if call.lengths is not None:
                raise ValueError("lengths: expected None for an unbatched (T, I) input, got "
                                 f"{type(call.lengths).__name__}; add a batch axis to give "
                                 "lengths")
            x = x[:, None, :]
        elif batch_first:
            x = x.transpose(1, 0, 2)
        T, B = x.shape[0], x.shape[1]
        n_states = self.num_layers * self.num_directions
        h0, c0 = _inputs.initial_states(self.kind, call.h0, call.c0,
                                        (n_states, B) if batched else (n_states,), (n_states, B),
                                        self._h_out, self.hidden_size, self.dtype, xp)
        lengths = _inputs.check_lengths(call.lengths, B, T)
        if call.device == "cuda":
            lengths = xp.asarray(lengths)
        record = []
        output, h_n, c_n = _driver.run_stack(self.kind, self._device_units(call.device), x, h0,
                                             c0, lengths, self.num_layers, self.num_directions,
                                             self.nonlinearity, call.device, record)
        # what ran ("cpu", "persistent", "stepwise", ...), so benchmarks report the truth
        self.last_path = _driver.path_summary(call.device, record)
        if not batched:
            output, h_n = output[:, 0, :], h_n[:, 0, :]
            c_n = None if c_n is None else c_n[:, 0, :]
        elif batch_first:
            output = output.transpose(1, 0, 2)
        output, h_n = _inputs.hand_back(output, call), _inputs.hand_back(h_n, call)
        if self.kind == "lstm":
            return output, (h_n, _inputs.hand_back(c_n, call))
        return output, h_n

    forward = __call__
    init_state = _streaming.init_state   # streaming, one time step per call: _streaming.py
    step = _streaming.step

    def __repr__(self):
        extra = "" if self.kind != "rnn" else f", nonlinearity={self.nonlinearity!r}"
        proj = f", proj_size={self.proj_size}" if self.proj_size else ""
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, num_layers="
                f"{self.num_layers}, bias={self.bias}, batch_first={self.batch_first}, "
                f"bidirectional={self.bidirectional}{proj}{extra}, dtype={self.io_dtype}, "
                f"device={self.device!r})")


class LSTM(_Layer):
    """Multi-layer LSTM over whole sequences, with torch's ``nn.LSTM`` signature and weights.

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0, *, device="auto", dtype=float32, random_state=None)``.
    Gates i, f, g, o; weights ``weight_ih_l{k}`` (4H, I), ``weight_hh_l{k}`` (4H, H_out),
    ``bias_ih_l{k}``/``bias_hh_l{k}`` (4H,), ``weight_hr_l{k}`` (P, H) with a projection, and
    ``..._reverse`` for the reverse direction; initialised U(-1/sqrt(H), 1/sqrt(H)) like torch.
    ``dropout`` is accepted and ignored (inference only), with a warning. Call with
    ``layer(x, hx=None, lengths=None)``; see ``_Layer.__call__``.
    """

    kind = "lstm"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, device="auto", dtype=None,
                 random_state=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, "tanh", device=device, dtype=dtype,
                         random_state=random_state)


class GRU(_Layer):
    """Multi-layer GRU over whole sequences, with torch's ``nn.GRU`` signature and weights.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, *, device="auto", dtype=float32, random_state=None)``. Gates r, z, n with
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); weight shapes (3H, I), (3H, H), (3H,).
    """

    kind = "gru"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, device="auto", dtype=None, random_state=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, "tanh", device=device, dtype=dtype,
                         random_state=random_state)


class RNN(_Layer):
    """Multi-layer Elman RNN, h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu, with
    torch's ``nn.RNN`` signature: ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh',
    bias=True, batch_first=False, dropout=0.0, bidirectional=False, *, device="auto",
    dtype=float32, random_state=None)``.
    """

    kind = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, device="auto", dtype=None,
                 random_state=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, nonlinearity, device=device, dtype=dtype,
                         random_state=random_state)
