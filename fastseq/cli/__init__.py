"""The ``fastseq`` command: info, demo, compare, kmeans, gradients (``fastseq``,
``python -m fastseq`` or ``python -m fastseq.cli``).

This module builds the parser and runs a subcommand; each subcommand lives in its own private
module (``_info``, ``_demo``, ``_compare``, ``_kmeans``, ``_gradients``), imported only when it
runs.

Errors in what the user typed or supplied (a missing file, NaN in the data, k larger than the
number of rows) end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["build_parser", "main"]


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
    info.set_defaults(func=_cmd("_info"))

    demo = sub.add_parser("demo", help="cluster a built-in data set, run LSTM/GRU layers, and "
                          "compare with scikit-learn and torch")
    demo.add_argument("--device", choices=devices, default="auto")
    demo.set_defaults(func=_cmd("_demo"))

    compare = sub.add_parser("compare", help="Conv1d vs TCN vs RNN vs GRU vs LSTM: parameters, "
                             "shapes, MACs, sequential steps, latency and streaming")
    compare.add_argument("--batch", type=_positive_int, required=True)
    compare.add_argument("--time", type=_positive_int, required=True)
    compare.add_argument("--features", type=_positive_int, required=True)
    compare.add_argument("--hidden", type=_positive_int, required=True)
    compare.add_argument("--kernel", type=_positive_int, default=3)
    compare.add_argument("--layers", type=_positive_int, default=1)
    compare.add_argument("--bidirectional", action="store_true")
    compare.add_argument("--repeats", type=_positive_int, default=10,
                         help="timed runs per model (the median is shown)")
    compare.add_argument("--budget-ms", type=float, default=5.0,
                         help="latency budget: which models stay within it (default 5)")
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

    grads = sub.add_parser("gradients", help="vanishing gradients: norm of dLoss/dx_t for a loss "
                           "on the last output, fastseq's backward beside torch's")
    grads.add_argument("--kind", default="rnn,gru,lstm", help="comma-separated: rnn,gru,lstm")
    grads.add_argument("--time", type=_positive_int, default=100)
    grads.add_argument("--batch", type=_positive_int, default=8)
    grads.add_argument("--features", type=_positive_int, default=32)
    grads.add_argument("--hidden", type=_positive_int, default=64)
    grads.add_argument("--seed", type=int, default=0)
    grads.add_argument("--plot", metavar="OUT.png", help="draw the curves into this file")
    grads.set_defaults(func=_cmd("_gradients"))
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

