"""``fastseq info``: the version, the CPU threading setup and the CUDA device status."""

from __future__ import annotations


def _format_bytes(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def run(args) -> int:
    """Print the version, the CPU threading setup and whether a CUDA device is usable."""
    import platform

    import numba
    import numpy

    import fastseq
    from .._backend import gpu_status

    rows = [
        ("fastseq", fastseq.__version__),
        ("python", platform.python_version()),
        ("numpy", numpy.__version__),
        ("numba", numba.__version__),
        ("numba threads", f"{numba.get_num_threads()} (layer: {numba.config.THREADING_LAYER})"),
    ]
    status = gpu_status()
    if status.available:
        rows += [
            ("cuda", "usable"),
            ("cuda device", f"{status.name} (compute {status.compute_capability}, "
                            f"{_format_bytes(status.total_memory)})"),
        ]
    else:
        rows += [("cuda", f"not usable: {status.reason}")]
    rows += [
        ("cupy", status.cupy_version or "not installed"),
        ("numba-cuda", status.numba_cuda_version or "not installed"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
