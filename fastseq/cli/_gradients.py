"""``fastseq gradients``: vanishing gradients, measured.

For each kind, a default-initialised one-layer module of ``fastseq.nn`` (torch's initialisation)
runs on random input, and the backward of a loss on the last output, ``sum(out[T-1])``, gives
dLoss/dx_t for every t. The norm ||dLoss/dx_t|| (mean over the batch) is printed at a few t with
the ratio between t = 0 and t = T-1; the same computation with torch's module on the same
weights is shown beside it (the largest relative difference of the curves). ``--plot`` draws the
curves (needs matplotlib: ``pip install fastseq[bench]``).
"""

from __future__ import annotations

import numpy as np

KINDS = ("rnn", "gru", "lstm")


def parse_kinds(text: str) -> list:
    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"--kind: expected a comma-separated list of {', '.join(KINDS)}, got "
                         f"{text!r}")
    return kinds


def gradient_norms(kind: str, T: int, batch: int, features: int, hidden: int, seed: int):
    """(fastseq's, torch's) ||dLoss/dx_t|| for t = 0..T-1, float64 arrays of length T."""
    import torch

    import fastseq.nn as fnn

    name = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}[kind]
    torch.manual_seed(seed)
    ours = getattr(fnn, name)(features, hidden).double()
    ref = getattr(torch.nn, name)(features, hidden).double()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(T, batch, features, dtype=torch.float64)
    norms = []
    for module in (ours, ref):
        xg = x.clone().requires_grad_()
        out, _ = module(xg)
        (grad,) = torch.autograd.grad(out[-1].sum(), xg)
        norms.append(grad.norm(dim=2).mean(dim=1).numpy())
    return norms[0], norms[1]


def _points(T: int) -> list:
    return sorted({0, T // 10, T // 4, T // 2, (3 * T) // 4, T - 1})


def run(args) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RuntimeError("fastseq gradients needs torch: pip install fastseq[torch]") from None
    kinds = parse_kinds(args.kind)
    T = args.time
    curves = {}
    print(f"||dLoss/dx_t||, loss = sum(out[T-1]); T = {T}, batch {args.batch}, features "
          f"{args.features}, hidden {args.hidden}, float64, seed {args.seed}")
    points = _points(T)
    print(f"{'kind':<6}" + "".join(f"{'t=' + str(t):>12}" for t in points)
          + f"{'t=0 / t=T-1':>14}{'vs torch':>11}")
    for kind in kinds:
        ours, ref = gradient_norms(kind, T, args.batch, args.features, args.hidden, args.seed)
        curves[kind] = ours
        diff = float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300)))
        ratio = ours[0] / ours[-1] if ours[-1] != 0 else float("nan")
        print(f"{kind:<6}" + "".join(f"{ours[t]:>12.3e}" for t in points)
              + f"{ratio:>14.3e}{diff:>11.1e}")
    if args.plot:
        _plot(curves, T, args.plot)
        print(f"plot written to {args.plot}")
    return 0


def _plot(curves: dict, T: int, path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install fastseq[bench]") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, norms in curves.items():
        ax.semilogy(np.arange(T), norms, label=kind.upper())
    ax.set_xlabel("t")
    ax.set_ylabel("||dLoss/dx_t||")
    ax.set_title("gradient of a loss on the last output")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
