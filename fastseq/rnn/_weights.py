"""Weights of cells and layers: torch-style initialisation, ``state_dict`` export, validated
``load_state_dict`` import, and reading the parameters of a torch module.

Weights are held as C-contiguous NumPy arrays under torch's parameter names. torch is never
imported here: a torch module or tensor is read through its own methods.
"""

from __future__ import annotations

import numpy as np

from .._backend import is_cupy_array, is_torch_tensor, to_host, unwrap
from .._validation import check_random_state


def check_dtype(dtype) -> np.dtype:
    """The layer dtype: float32 (default) or float64; torch dtypes are accepted too."""
    if dtype is None:
        return np.dtype(np.float32)
    name = str(dtype).replace("torch.", "")
    if name in ("float32", "float", "single"):
        return np.dtype(np.float32)
    if name in ("float64", "double"):
        return np.dtype(np.float64)
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = None
    if d in (np.float32, np.float64):
        return d
    raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}")


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
            raise TypeError(f"{name}: expected float32 or float64 values, got {value.dtype}")
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
    """The parameters of a torch module as ``{name: tensor}``, after checking its class."""
    names = [c.__name__ for c in type(module).__mro__]
    if not any(n in expected_class_names for n in names):
        raise TypeError(f"module: expected a torch.nn.{' / torch.nn.'.join(expected_class_names)}"
                        f" for {what}, got {type(module).__module__}.{type(module).__name__}")
    return dict(module.state_dict())


def torch_dtype_of(state: dict):
    """float32 / float64 from a torch state dict (the dtype of its first parameter)."""
    first = next(iter(state.values()))
    name = str(first.dtype).replace("torch.", "")
    if name not in ("float32", "float64"):
        raise TypeError(f"module: expected float32 or float64 parameters, got {first.dtype}")
    return np.dtype(name)


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
