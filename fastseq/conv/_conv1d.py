"""``Conv1d``: torch's ``nn.Conv1d`` (constructor, weight layout, results) for inference, on the
Numba CPU kernel, plus causal streaming one time step at a time."""

from __future__ import annotations

from .. import _backend
from ..rnn import _weights
from . import _stack
from ._params import check_geometry


class PreparedUnits:
    """The kernel layout of a module's weights (units and streaming plan), rebuilt on demand
    after ``load_state_dict`` (``invalidate``)."""

    def __init__(self, build):
        self._build = build
        self.invalidate()

    def invalidate(self):
        self._units = self._plan = None

    def units(self):
        if self._units is None:
            self._units = self._build()
        return self._units

    def plan(self, dtype):
        if self._plan is None:
            self._plan = _stack.pack(self.units(), dtype)
        return self._plan


class Conv1d(_weights.TorchWeights):
    """1D convolution over (B, C_in, T) or (C_in, T), torch's ``nn.Conv1d`` for inference.

    ``Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True, padding_mode='zeros', *, causal=False, device='auto', dtype=float32,
    random_state=None)``. ``padding`` is an int (zeros on both sides), ``'valid'`` (none) or
    ``'same'`` (stride 1; the odd zero goes on the right, as in torch). Weights ``weight``
    (C_out, C_in / groups, k) and ``bias`` (C_out,), initialised U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with fan_in = C_in / groups * k, like torch.

    ``causal=True`` pads (k - 1) * dilation zeros on the left only (stride 1), so output t sees
    inputs t - (k - 1) * dilation .. t and T_out = T; such a layer also streams:
    ``state = layer.init_state(batch)``, then ``y_t, state = layer.step(x_t, state)``.
    """

    _projection = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", *, causal=False, device="auto",
                 dtype=None, random_state=None):
        self.geometry = check_geometry(in_channels, out_channels, kernel_size, stride, padding,
                                       dilation, groups, causal)
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode: only 'zeros' is supported, got {padding_mode!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias: expected True or False, got {bias!r}")
        if not isinstance(device, str) or device not in _backend.DEVICES:
            raise ValueError(f"device: expected one of {_backend.DEVICES}, got {device!r}")
        self.bias_enabled = bias
        self.device = device
        self.dtype = _weights.check_dtype(dtype)
        g = self.geometry
        self._shapes = {"weight": (g.out_channels, g.in_channels // g.groups, g.kernel_size)}
        if bias:
            self._shapes["bias"] = (g.out_channels,)
        fan_in = g.in_channels // g.groups * g.kernel_size
        self._weights = _weights.init_uniform(self._shapes, fan_in, self.dtype, random_state)
        self._cache = PreparedUnits(self._build_units)
        self._token = object()

    def __getattr__(self, name):
        geometry = self.__dict__.get("geometry")
        if geometry is not None and name in ("in_channels", "out_channels", "kernel_size",
                                             "stride", "padding", "dilation", "groups", "causal"):
            return getattr(geometry, name)
        if name == "bias" and self.__dict__.get("bias_enabled") is False:
            return None   # as torch: a layer built with bias=False has bias None
        return super().__getattr__(name)

    def _build_units(self):
        return [_stack.make_unit(self.geometry, self._weights["weight"],
                                 self._weights.get("bias"), self.dtype)]

    @classmethod
    def from_torch(cls, module, device="auto"):
        """A layer with the hyperparameters and (copied) weights of a torch ``nn.Conv1d``."""
        state = _weights.module_state(module, ("Conv1d",), cls.__name__)
        padding = module.padding if isinstance(module.padding, str) else module.padding[0]
        layer = cls(module.in_channels, module.out_channels, module.kernel_size[0],
                    module.stride[0], padding, module.dilation[0], module.groups,
                    module.bias is not None, module.padding_mode, device=device,
                    dtype=_weights.torch_dtype_of(state))
        return layer.load_state_dict(state)

    def output_length(self, t_in: int) -> int:
        """T_out for an input of ``t_in`` steps (torch's formula)."""
        return self.geometry.output_length(t_in)

    def __call__(self, x):
        """x (B, C_in, T) or (C_in, T), the layer's dtype, NumPy or torch (CPU) -> (B, C_out,
        T_out) or (C_out, T_out) in the same type."""
        x, batched, origin = _stack.prepare_input(self, x, self.geometry.in_channels)
        (unit,) = self._cache.units()
        out = _stack.run_unit(unit, x)
        return _backend.wrap(out if batched else out[0], origin)

    forward = __call__

    # ---- streaming -----------------------------------------------------------------------
    def _check_streams(self):
        if not self.geometry.causal:
            raise ValueError("step: streaming needs a causal layer (Conv1d(..., causal=True)); "
                             f"this one has padding={self.geometry.padding!r}")

    def init_state(self, batch: int = 1) -> _stack.StreamState:
        """Zeros for ``batch`` streams: the ring buffer of the last (k - 1) * dilation inputs."""
        self._check_streams()
        return _stack.StreamState(self._token, self._cache.plan(self.dtype),
                                  _stack.check_batch(batch), self.dtype)

    def step(self, x_t, state):
        """One time step of a causal layer: x_t (B, C_in) or (C_in,) -> ``(y_t, state)``, y_t
        (B, C_out) or (C_out,), equal to the offline output at that step. The state is updated
        in place and returned."""
        self._check_streams()
        state = _stack.check_state(state, self._token, self)
        return _stack.step(self, self._cache.plan(self.dtype), state, x_t,
                           self.geometry.in_channels)

    def __repr__(self):
        g = self.geometry
        return (f"Conv1d({g.in_channels}, {g.out_channels}, kernel_size={g.kernel_size}, "
                f"stride={g.stride}, padding={g.padding!r}, dilation={g.dilation}, groups="
                f"{g.groups}, bias={self.bias_enabled}, dtype={self.dtype}, device={self.device!r})")
