"""``TCN``: a temporal convolutional network, a stack of causal dilated residual blocks, offline
and streaming.

Block i maps C_{i-1} -> C_i channels with one causal convolution of kernel k and dilation d_i:

- ``activation="relu"``: ``y = relu(conv(x)) + res(x)``;
- ``activation="gated"``: the convolution has 2 C_i outputs z and
  ``y = tanh(z[:C_i]) * sigmoid(z[C_i:]) + res(x)``;

where ``res(x) = x`` when C_{i-1} == C_i and a 1x1 convolution (with bias) otherwise. The weights
carry the names of the equivalent torch ``nn.Sequential`` of ``Conv1d`` modules, in order: each
block's convolution, then its 1x1 projection where there is one (``"0.weight"``, ``"0.bias"``,
``"1.weight"``, ...), so ``state_dict`` loads into that Sequential and ``from_torch`` reads one.
"""

from __future__ import annotations

from .. import _backend
from .._validation import check_int, check_random_state
from ..rnn import _weights
from . import _conv_cpu, _stack
from ._conv1d import PreparedUnits
from ._params import check_geometry, receptive_field

_ACTIVATIONS = {"relu": _conv_cpu.ACT_RELU, "gated": _conv_cpu.ACT_GATED}


def _check_channels(channels):
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or not channels:
        raise TypeError(f"channels: expected a non-empty list of output channels, one per block, "
                        f"got {channels!r}")
    return [check_int(c, f"channels[{i}]", minimum=1) for i, c in enumerate(channels)]


def _check_dilations(dilations, n_blocks):
    if dilations is None:
        return [2 ** i for i in range(n_blocks)]
    if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__len__") \
            or len(dilations) != n_blocks:
        raise ValueError(f"dilations: expected a list of {n_blocks} dilations (one per entry of "
                         f"channels), got {dilations!r}")
    return [check_int(d, f"dilations[{i}]", minimum=1) for i, d in enumerate(dilations)]


class TCN(_weights.TorchWeights):
    """Causal dilated residual blocks over (B, C_in, T) or (C_in, T) -> (B, channels[-1], T).

    ``TCN(in_channels, channels, kernel_size=3, dilations=None, activation="relu", bias=True, *,
    device="auto", dtype=float32, random_state=None)``: one block per entry of ``channels``
    (its output channels), dilations 1, 2, 4, ... by default. ``receptive_field`` =
    1 + sum_i (kernel_size - 1) * dilations[i] inputs determine each output. Streams like a causal
    Conv1d: ``state = tcn.init_state(batch)``, ``y_t, state = tcn.step(x_t, state)``.
    """

    _projection = False

    def __init__(self, in_channels, channels, kernel_size=3, dilations=None, activation="relu",
                 bias=True, *, device="auto", dtype=None, random_state=None):
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.channels = _check_channels(channels)
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        self.dilations = _check_dilations(dilations, len(self.channels))
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected 'relu' or 'gated', got {activation!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias: expected True or False, got {bias!r}")
        if not isinstance(device, str) or device not in _backend.DEVICES:
            raise ValueError(f"device: expected one of {_backend.DEVICES}, got {device!r}")
        self.activation, self.bias, self.device = activation, bias, device
        self.dtype = _weights.check_dtype(dtype)
        self._blocks = []   # per block: (geometry, conv name, projection name or None)
        self._shapes, fans = {}, {}
        widen = 2 if activation == "gated" else 1
        c_prev, index = self.in_channels, 0
        for c, d in zip(self.channels, self.dilations):
            geo = check_geometry(c_prev, widen * c, self.kernel_size, dilation=d, causal=True)
            conv, index = str(index), index + 1
            self._add(conv, (widen * c, c_prev, self.kernel_size), c_prev * self.kernel_size,
                      bias, fans)
            proj = None
            if c != c_prev:
                proj, index = str(index), index + 1
                self._add(proj, (c, c_prev, 1), c_prev, True, fans)
            self._blocks.append((geo, conv, proj))
            c_prev = c
        rng = check_random_state(random_state)   # one generator for every parameter
        self._weights = {}
        for name, shape in self._shapes.items():
            self._weights.update(_weights.init_uniform({name: shape}, fans[name], self.dtype, rng))
        self._cache = PreparedUnits(self._build_units)
        self._token = object()

    def _add(self, prefix, shape, fan_in, bias, fans):
        self._shapes[prefix + ".weight"] = shape
        fans[prefix + ".weight"] = fan_in
        if bias:
            self._shapes[prefix + ".bias"] = (shape[0],)
            fans[prefix + ".bias"] = fan_in

    @property
    def receptive_field(self) -> int:
        """Inputs each output depends on: 1 + sum_i (kernel_size - 1) * dilations[i]."""
        return receptive_field([self.kernel_size] * len(self.dilations), self.dilations)

    @property
    def out_channels(self) -> int:
        return self.channels[-1]

    def _build_units(self):
        act = _ACTIVATIONS[self.activation]
        units = []
        for geo, conv, proj in self._blocks:
            w = self._weights[conv + ".weight"]
            b = self._weights.get(conv + ".bias")
            if proj is None:
                units.append(_stack.make_unit(geo, w, b, self.dtype, act, _conv_cpu.RES_IDENTITY))
            else:
                units.append(_stack.make_unit(geo, w, b, self.dtype, act, _conv_cpu.RES_PROJECT,
                                              self._weights[proj + ".weight"],
                                              self._weights[proj + ".bias"]))
        return units

    @classmethod
    def from_torch(cls, module, activation="relu", device="auto"):
        """A TCN with the weights of an equivalent torch ``nn.Sequential`` of ``Conv1d``: each
        block's dilated convolution (stride 1, groups 1, padding 0 or (k - 1) * dilation: the TCN
        pads causally itself), followed by a kernel-1 projection where the channels change. The
        blocks' activation and residual are not modules: pass ``activation``."""
        convs = list(module.children()) if hasattr(module, "children") else None
        if not convs or not all(type(m).__name__ == "Conv1d" for m in convs):
            raise TypeError("module: expected a torch.nn.Sequential of torch.nn.Conv1d modules, "
                            f"got {type(module).__name__}")
        widen = 2 if activation == "gated" else 1
        channels, dilations, kernel, i, c_prev = [], [], convs[0].kernel_size[0], 0, None
        bias = convs[0].bias is not None
        while i < len(convs):
            m = convs[i]
            d = m.dilation[0]
            if m.kernel_size[0] != kernel or m.stride[0] != 1 or m.groups != 1 \
                    or m.padding_mode != "zeros" or m.padding not in ((0,), ((kernel - 1) * d,)) \
                    or m.out_channels % widen or (m.bias is not None) != bias \
                    or (c_prev is not None and m.in_channels != c_prev):
                raise ValueError(f"module[{i}]: expected a block convolution with kernel_size "
                                 f"{kernel}, stride 1, groups 1, padding 0 or (k - 1) * dilation"
                                 f", bias={bias}, {widen} * C outputs for activation="
                                 f"{activation!r} and in_channels {c_prev}; got {m}")
            c = m.out_channels // widen
            if c != m.in_channels:
                p = convs[i + 1] if i + 1 < len(convs) else None
                if p is None or p.kernel_size[0] != 1 or p.in_channels != m.in_channels \
                        or p.out_channels != c or p.bias is None:
                    raise ValueError(f"module[{i + 1}]: expected the block's 1x1 projection "
                                     f"Conv1d({m.in_channels}, {c}, 1) with a bias, got {p}")
                i += 1
            if c_prev is None:
                first = m.in_channels
            channels.append(c)
            dilations.append(d)
            c_prev, i = c, i + 1
        state = dict(module.state_dict())
        tcn = cls(first, channels, kernel, dilations, activation, bias, device=device,
                  dtype=_weights.torch_dtype_of(state))
        return tcn.load_state_dict(state)

    def __call__(self, x):
        """x (B, C_in, T) or (C_in, T), the TCN's dtype, NumPy or torch (CPU) -> (B, C_last, T)
        or (C_last, T) in the same type."""
        x, batched, origin = _stack.prepare_input(self, x, self.in_channels)
        for unit in self._cache.units():
            x = _stack.run_unit(unit, x)
        return _backend.wrap(x if batched else x[0], origin)

    forward = __call__

    def init_state(self, batch: int = 1) -> _stack.StreamState:
        """Zeros for ``batch`` streams: per block, a ring buffer of its last (k - 1) * d inputs."""
        return _stack.StreamState(self._token, self._cache.plan(self.dtype),
                                  _stack.check_batch(batch), self.dtype)

    def step(self, x_t, state):
        """One time step: x_t (B, C_in) or (C_in,) -> ``(y_t, state)``, y_t (B, C_last) or
        (C_last,), equal to the offline output at that step; the state is updated in place."""
        state = _stack.check_state(state, self._token, self)
        return _stack.step(self, self._cache.plan(self.dtype), state, x_t, self.in_channels)

    def __repr__(self):
        return (f"TCN({self.in_channels}, {self.channels}, kernel_size={self.kernel_size}, "
                f"dilations={self.dilations}, activation={self.activation!r}, bias={self.bias}, "
                f"receptive_field={self.receptive_field}, dtype={self.dtype})")
