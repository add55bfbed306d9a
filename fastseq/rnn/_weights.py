"""Weights of cells and layers: torch-style initialisation, ``state_dict`` export, validated
``load_state_dict`` import, and reading the parameters of a torch module.

Weights are held as C-contiguous NumPy arrays under torch's parameter names. torch is never
imported here: a torch module or tensor is read through its own methods.
"""

from __future__ import annotations

import numpy as np

from .._backend import is_cupy_array, is_torch_tensor, to_host, unwrap
from .._validation import check_random_state


# the dtypes a layer takes, by name; half-precision layers hold float32 weights and compute in it
IO_DTYPES = ("float32", "float64", "float16", "bfloat16")
FULL_DTYPES = ("float32", "float64")   # layers without a half-precision path (the convolutions)
_DTYPE_ALIASES = {"float": "float32", "single": "float32", "double": "float64", "half": "float16"}


def dtype_name(dtype) -> str | None:
    """The name of a NumPy, torch or string dtype ("float32", "bfloat16", ...), None if unknown."""
    if dtype is None:
        return None
    name = str(dtype).replace("torch.", "")
    if name in IO_DTYPES or name in _DTYPE_ALIASES:
        return _DTYPE_ALIASES.get(name, name)
    try:  # NumPy dtypes and types, and torch's under NumPy's names (torch.int64, torch.bool, ...)
        return np.dtype(name if str(dtype).startswith("torch.") else dtype).name
    except TypeError:
        return name if isinstance(dtype, str) else None


def resolve_dtype(dtype) -> tuple:
    """``(compute dtype, io dtype name)`` of a layer built with ``dtype``.

    float32 (the default) and float64 layers compute in their dtype. float16 and bfloat16 layers
    hold their weights in float32 (every half value is exact in it), compute in float32 and take
    and return half-precision arrays: the io dtype.
    """
    name = "float32" if dtype is None else dtype_name(dtype)
    if name not in IO_DTYPES:
        raise TypeError(f"dtype: expected one of {', '.join(IO_DTYPES)}, got {dtype!r}")
    return np.dtype(np.float64 if name == "float64" else np.float32), name


def check_dtype(dtype) -> np.dtype:
    """The dtype of a layer that computes and takes its inputs in one dtype, float32 (the
    default) or float64 (the convolutions): half precision is refused, not widened."""
    compute, name = resolve_dtype(dtype)
    if name not in FULL_DTYPES:
        raise TypeError(f"dtype: expected {' or '.join(FULL_DTYPES)} (this layer has no "
                        f"half-precision path), got {dtype!r}")
    return compute


def init_uniform(shapes: dict, hidden_size: int, dtype, random_state=None) -> dict:
    """torch's default initialisation: every parameter U(-1/sqrt(H), 1/sqrt(H)).

    ``random_state``: None, an int seed, a ``numpy.random.RandomState`` or ``Generator``
    (the package's one policy, ``check_random_state``). The values differ from torch's generator:
    use ``from_torch`` or ``load_state_dict`` to get a torch model's weights.
    """
    rng = check_random_state(random_state)
    bound = 1.0 / np.sqrt(hidden_size)
    return {name: rng.uniform(-bound, bound, size=shape).astype(dtype) for name, shape in shapes.items()}


def to_numpy(value, name: str):
    """A parameter given as a NumPy array, a torch tensor (any device) or an array-like, as NumPy."""
    if is_torch_tensor(value):
        value = value.detach()
        if value.device.type != "cpu":
            value = value.cpu()
        if str(value.dtype) in ("torch.bfloat16", "torch.float16"):
            value = value.float()  # exact; NumPy has no bfloat16
        arr, _ = unwrap(value)
        return np.asarray(arr)
    if is_cupy_array(value):
        return to_host(value)
    try:
        return np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name}: expected an array, got {type(value).__name__} ({exc})") from None


def check_weights(state: dict, shapes: dict, dtype, *, strict: bool = True, what: str = "state_dict") -> dict:
    """Validate a mapping of parameters against the expected ``{name: shape}``.

    Returns new C-contiguous arrays of ``dtype``. Missing or unexpected names (with ``strict``),
    wrong shapes, non-numeric or non-finite values raise with the parameter's name.
    """
    if not hasattr(state, "keys"):
        raise TypeError(f"{what}: expected a mapping of parameter names to arrays, "
                        f"got {type(state).__name__}")
    keys = set(state.keys())
    missing = [k for k in shapes if k not in keys]
    unexpected = sorted(k for k in keys if k not in shapes)
    if missing:
        raise ValueError(f"{what}: missing parameter(s) {missing}; expected keys {list(shapes)}")
    if strict and unexpected:
        raise ValueError(f"{what}: unexpected parameter(s) {unexpected}; expected keys "
                         f"{list(shapes)}")
    out = {}
    for name, shape in shapes.items():
        arr = to_numpy(state[name], f"{what}[{name!r}]")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{what}[{name!r}]: expected real numbers, got dtype {arr.dtype}")
        if tuple(arr.shape) != tuple(shape):
            raise ValueError(f"{what}[{name!r}]: expected shape {tuple(shape)}, got {tuple(arr.shape)}")
        arr = np.array(arr, dtype=dtype, order="C", copy=True)
        if not np.isfinite(arr).all():
            n_bad = int((~np.isfinite(arr)).sum())
            raise ValueError(f"{what}[{name!r}]: expected finite weights, got {n_bad} NaN/Inf "
                             f"value(s)")
        out[name] = arr
    return out


def module_state(module, expected_class_names: tuple, what: str) -> dict:
    """The effective parameters of a torch module as ``{name: tensor}``, after checking its class.

    A parametrized parameter (``torch.nn.utils.parametrize``, e.g. the ``weight_norm`` of
    ``torch.nn.utils.parametrizations``) is read as the module computes it, under its plain name;
    so is one under the older ``torch.nn.utils.weight_norm`` hook (``name_g`` / ``name_v``).
    """
    names = [c.__name__ for c in type(module).__mro__]
    if not any(n in expected_class_names for n in names):
        raise TypeError(f"module: expected a torch.nn.{' / torch.nn.'.join(expected_class_names)}"
                        f" for {what}, got {type(module).__module__}.{type(module).__name__}")
    raw, state = module.state_dict(), {}
    for key, value in raw.items():
        if key.startswith("parametrizations."):
            key = key.split(".")[1]
            value = getattr(module, key)
        elif key.endswith(("_g", "_v")) and {key[:-2] + "_g", key[:-2] + "_v"} <= raw.keys() \
                and hasattr(module, key[:-2]):
            key = key[:-2]
            value = getattr(module, key)
        state[key] = value
    return state


def torch_dtype_of(state: dict) -> str:
    """The dtype name of a torch state dict (that of its first parameter), one of IO_DTYPES."""
    first = next(iter(state.values()))
    name = str(first.dtype).replace("torch.", "")
    if name not in IO_DTYPES:
        raise TypeError(f"module: expected {', '.join(IO_DTYPES)} parameters, got {first.dtype}")
    return name


def export(weights: dict) -> dict:
    """A ``state_dict``: copies, in torch's parameter order (the order of ``weights``)."""
    return {name: arr.copy() for name, arr in weights.items()}


class TorchWeights:
    """The weight handling cells and layers share: torch's parameter names as attributes,
    ``num_parameters``, ``state_dict``, ``load_state_dict`` and the weights prepared per device.
    Needs ``_weights`` (name -> array), ``_shapes`` (name -> shape), ``dtype``, ``_cache`` (a
    DeviceWeights) and ``_suffixes()`` (the parameter-name suffix of each layer and direction)."""

    _projection = False   # LSTM layers with proj_size > 0 have weight_hr: they override this

    def _device_units(self, device: str) -> list:
        """The prepared weights (``_driver.Unit``) of each layer and direction on ``device``,
        cached until the weights change."""
        return self._cache.units(device, self._weights, self._suffixes(), self.dtype,
                                 self._projection)

    def num_parameters(self) -> int:
        """Number of parameters (torch's count: both bias vectors)."""
        return int(sum(w.size for w in self._weights.values()))

    def __getattr__(self, name):
        weights = self.__dict__.get("_weights")
        if weights is not None and name in weights:
            return weights[name]
        raise AttributeError(f"{type(self).__name__!s} object has no attribute {name!r}")

    def state_dict(self) -> dict:
        """``{torch parameter name: NumPy array}`` (copies), loadable by torch's
        ``module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``."""
        return export(self._weights)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Load parameters (NumPy arrays or torch tensors) under torch's names; the values are
        copied and converted to the module's dtype. Shapes must match; weights must be finite."""
        self._weights = check_weights(state_dict, self._shapes, self.dtype, strict=strict)
        self._cache.invalidate()
        return self
