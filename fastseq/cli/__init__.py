"""The ``fastseq`` command: info, demo, compare, kmeans.

Errors in what the user typed or supplied (a missing file, NaN in the data, k larger than the
number of rows) end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
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


def print_table(header, rows) -> None:
    """Print rows of strings as an aligned text table."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(header, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(f"{str(c):<{w}}" for c, w in zip(row, widths)))


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _cmd(module):
    def run(args):
        from importlib import import_module
        return import_module(f"fastseq.cli.{module}").run(args)
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastseq", description="fast K-means and recurrent "
                                     "layers on CPU and GPU")
    sub = parser.add_subparsers(dest="command", required=True)
    devices = ["auto", "cpu", "cuda"]

    info = sub.add_parser("info", help="version, threads and CUDA device status")
    info.set_defaults(func=cmd_info)

    demo = sub.add_parser("demo", help="cluster a built-in data set, run LSTM/GRU layers, and "
                          "compare with scikit-learn and torch")
    demo.add_argument("--device", choices=devices, default="auto")
    demo.set_defaults(func=_cmd("_demo"))

    compare = sub.add_parser("compare", help="Conv1d vs RNN vs GRU vs LSTM: parameters, shapes, "
                             "MACs, sequential steps and latency")
    compare.add_argument("--batch", type=_positive_int, required=True)
    compare.add_argument("--time", type=_positive_int, required=True)
    compare.add_argument("--features", type=_positive_int, required=True)
    compare.add_argument("--hidden", type=_positive_int, required=True)
    compare.add_argument("--kernel", type=_positive_int, default=3)
    compare.add_argument("--layers", type=_positive_int, default=1)
    compare.add_argument("--bidirectional", action="store_true")
    compare.add_argument("--repeats", type=_positive_int, default=10,
                         help="timed runs per model (the median is shown)")
    compare.add_argument("--device", choices=devices, default="cpu")
    compare.set_defaults(func=_cmd("_compare"))

    kmeans = sub.add_parser("kmeans", help="cluster a .npy or .csv file")
    kmeans.add_argument("input", metavar="INPUT", help=".npy (memory-mapped) or .csv file")
    kmeans.add_argument("-k", type=_positive_int, required=True, help="number of clusters")
    kmeans.add_argument("--minibatch", action="store_true", help="use MiniBatchKMeans")
    kmeans.add_argument("--device", choices=devices, default="auto")
    kmeans.add_argument("--n-init", type=_positive_int, default=1)
    kmeans.add_argument("--seed", type=int, default=0)
    kmeans.add_argument("-o", "--output", metavar="OUT.npz", help="write labels and centers here")
    kmeans.add_argument("--progress", action="store_true",
                        help="draw the progress bar even when stderr is not a terminal")
    kmeans.set_defaults(func=_cmd("_kmeans"))
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (for example fewer distinct points than k) as one line, without source lines."""
    stream = sys.stderr if file is None else file
    first = str(message).strip().splitlines()
    print(f"fastseq: warning: {first[0] if first else category.__name__}", file=stream)


def main(argv=None) -> int:
    import warnings
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            return args.func(args)
    except (ValueError, TypeError, RuntimeError, OSError, MemoryError) as exc:
        if os.environ.get("FASTSEQ_TRACEBACK"):
            raise
        message = " ".join(str(exc).splitlines()) or type(exc).__name__  # always one line
        print(f"fastseq {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastseq {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
