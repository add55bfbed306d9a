"""The ``fastseq`` command."""

from __future__ import annotations

import argparse
import sys


def _format_bytes(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def cmd_info(args) -> int:
    """Print the version, the CPU threading setup and whether a CUDA device is usable."""
    import platform

    import numba
    import numpy

    import fastseq
    from fastseq._backend import gpu_status

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastseq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="version, threads and CUDA device status")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
