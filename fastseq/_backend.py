"""Device detection, array namespaces and torch <-> array exchange through DLPack.

Nothing here imports cupy or torch at module import: cupy is imported the first time a GPU path is
asked for, and torch is only touched when the caller already handed us a torch tensor (so it is
in ``sys.modules``).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import numpy as np

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class GPUStatus:
    """What :func:`gpu_status` found: whether a CUDA device is usable, which, and why not."""

    available: bool
    reason: str
    name: str | None = None
    total_memory: int | None = None
    compute_capability: str | None = None
    cupy_version: str | None = None
    numba_cuda_version: str | None = None


@functools.lru_cache(maxsize=1)
def gpu_status() -> GPUStatus:
    """Probe for a usable CUDA device, once per process.

    A device is usable when CuPy imports and reports at least one device. ``numba.cuda.is_available()``
    is not used: it answers True under the CUDA simulator, where no GPU exists.
    """
    numba_cuda_version = _numba_cuda_version()
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return GPUStatus(False, f"cupy is not importable ({type(exc).__name__}: {exc}); "
                         "install fastseq[cuda12] or fastseq[cuda13]",
                         numba_cuda_version=numba_cuda_version)
    try:
        if not cupy.cuda.is_available():
            return GPUStatus(False, "cupy imports but reports no CUDA device",
                             cupy_version=cupy.__version__, numba_cuda_version=numba_cuda_version)
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    except Exception as exc:
        return GPUStatus(False, f"cupy could not query the device ({type(exc).__name__}: {exc})",
                         cupy_version=getattr(cupy, "__version__", None),
                         numba_cuda_version=numba_cuda_version)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return GPUStatus(True, "ok", name=name, total_memory=int(props["totalGlobalMem"]),
                     compute_capability=f"{props['major']}.{props['minor']}",
                     cupy_version=cupy.__version__, numba_cuda_version=numba_cuda_version)


def _numba_cuda_version() -> str | None:
    try:
        from importlib.metadata import version
        return version("numba-cuda")
    except Exception:
        return None


def is_cupy_array(x) -> bool:
    """True for a CuPy ndarray, decided without importing cupy."""
    return type(x).__module__.split(".")[0] == "cupy"


def is_dask_array(x) -> bool:
    """True for a ``dask.array.Array``, decided without importing dask."""
    t = type(x)
    return t.__name__ == "Array" and t.__module__.split(".")[0] == "dask"


def is_torch_tensor(x) -> bool:
    """True for a torch.Tensor, decided without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_cuda_input(x) -> bool:
    """True when ``x`` lives on a CUDA device (a CuPy array or a CUDA torch tensor)."""
    return is_cupy_array(x) or (is_torch_tensor(x) and x.device.type == "cuda")


def resolve_device(device: str, *arrays) -> str:
    """Turn ``device="auto"|"cpu"|"cuda"`` into ``"cpu"`` or ``"cuda"``.

    Auto picks CUDA when any input already lives on a GPU, or when a usable GPU is present.
    Asking for ``"cuda"`` without a usable GPU raises with the reason.
    """
    if not isinstance(device, str) or device not in DEVICES:
        raise ValueError(f"device: expected one of {DEVICES}, got {device!r}")
    on_gpu = any(is_cuda_input(a) for a in arrays if a is not None)
    if device == "cpu":
        return "cpu"
    if device == "cuda" or on_gpu:
        status = gpu_status()
        if not status.available:
            what = "device='cuda'" if device == "cuda" else "a CUDA input array"
            raise RuntimeError(f"{what} needs a usable CUDA device, but {status.reason}")
        return "cuda"
    return "cuda" if gpu_status().available else "cpu"


def get_namespace(device: str):
    """The array module for a resolved device: numpy for ``"cpu"``, cupy for ``"cuda"``."""
    if device == "cuda":
        import cupy
        return cupy
    return np


@dataclass(frozen=True)
class Origin:
    """Where an input came from, so results can be handed back in the caller's type."""

    kind: str  # "numpy" | "cupy" | "torch"
    torch_device: object = None


def unwrap(x):
    """Return ``(array, origin)``: a NumPy/CuPy view of ``x`` (zero-copy for tensors) and its origin.

    torch tensors go through DLPack (``requires_grad`` tensors are detached first); anything else
    that is not a CuPy array is handed to ``np.asarray`` by the validation layer later.
    """
    if is_torch_tensor(x):
        t = x.detach()
        if t.device.type == "cuda":
            import cupy
            return cupy.from_dlpack(t), Origin("torch", t.device)
        if t.device.type != "cpu":
            raise ValueError(f"torch tensors on {t.device.type!r} are not supported; "
                             "expected a CPU or CUDA tensor")
        if t.dtype == sys.modules["torch"].bfloat16:
            raise TypeError("bfloat16 tensors are not supported; expected float32 or float64")
        if t.is_conj() or t.is_neg():
            t = t.resolve_conj().resolve_neg()
        return np.from_dlpack(t), Origin("torch", t.device)
    if is_cupy_array(x):
        return x, Origin("cupy")
    return x, Origin("numpy")


def wrap(result, origin: Origin):
    """Hand ``result`` (a NumPy or CuPy array) back in the caller's type and on its device."""
    if origin.kind == "torch":
        import torch
        if origin.torch_device.type == "cpu":
            result = to_host(result)
        out = torch.from_dlpack(result)
        return out if out.device == origin.torch_device else out.to(origin.torch_device)
    if origin.kind == "cupy":
        if isinstance(result, np.ndarray):
            import cupy
            return cupy.asarray(result)
        return result
    return to_host(result)


def to_host(a):
    """A NumPy array of ``a``: a NumPy or CuPy array, a torch tensor (any device) or an array-like.

    NumPy input comes back as it is (no copy); everything else is copied to the host once.
    """
    if isinstance(a, np.ndarray) or hasattr(a, "nnz") and hasattr(a, "tocsr"):
        return a  # NumPy, or a scipy sparse matrix (host memory already)
    if is_torch_tensor(a):
        a = a.detach()
        return np.asarray(a.cpu() if a.device.type != "cpu" else a)
    if is_cupy_array(a):
        return a.get()
    return np.asarray(a)


def to_device(x, device: str):
    """Move a NumPy/CuPy array to ``device`` (no copy when it is already there)."""
    if device == "cuda":
        import cupy
        return cupy.asarray(x)
    return to_host(x) if is_cupy_array(x) else x


def synchronize(device: str) -> None:
    """Wait for queued GPU work (used by benchmarks and timings); a no-op on the CPU."""
    if device == "cuda":
        import cupy
        cupy.cuda.get_current_stream().synchronize()


def numba_device_array(a):
    """A Numba device-array view of the CuPy array ``a`` that a Numba kernel launch takes as is.

    Handing a CuPy array straight to a launch makes numba-cuda call
    ``as_cuda_array(a, sync=True)``, which synchronises the array's stream: once per array per
    launch, so the host would wait for every queued GEMM. The view is built without that
    synchronisation and without the interface's stream (launches name CuPy's current stream, so
    ordering already holds). Anything without ``__cuda_array_interface__`` (NumPy arrays under the
    simulator, scalars) is returned unchanged.
    """
    desc = getattr(a, "__cuda_array_interface__", None)
    if desc is None:
        return a
    from numba import cuda
    desc = dict(desc)
    desc.pop("stream", None)
    return cuda.from_cuda_array_interface(desc, owner=a, sync=False)
