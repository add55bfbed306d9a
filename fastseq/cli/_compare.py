"""``fastseq compare``: the classic sequence-model comparison, made executable.

For a 1D convolution (kernel k, F -> H channels, no padding), an Elman RNN, a GRU and an LSTM of
the same sizes: parameter counts (torch's two-bias convention, with the formula), output shapes,
multiply-accumulates per sequence, how many steps must run one after another, and the measured
latency per batch and per sample, for fastseq and for torch when it is installed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import _backend
from .._defaults import GATES
from ._peers import optional_import, torch_peer_device


@dataclass
class ModelSpec:
    name: str
    params: int
    formula: str
    output_shape: str
    macs: int
    sequential_steps: int


def conv_spec(batch, time_steps, features, hidden, kernel, layers) -> ModelSpec:
    """Conv1d stack (F -> H, then H -> H), stride 1, no padding: T shrinks by k - 1 per layer."""
    params, macs, t_out, f_in = 0, 0, time_steps, features
    for _ in range(layers):
        params += hidden * f_in * kernel + hidden
        t_out -= kernel - 1
        macs += max(t_out, 0) * hidden * f_in * kernel
        f_in = hidden
    formula = f"H*F*k + H = {hidden}*{features}*{kernel} + {hidden}"
    if layers > 1:
        formula += f" + {layers - 1}*({hidden}*{hidden}*{kernel} + {hidden})"
    formula += f" = {params:,}"
    return ModelSpec("Conv1d", params, formula, f"({batch}, {hidden}, {max(t_out, 0)})", macs,
                     layers)


def recurrent_spec(kind, batch, time_steps, features, hidden, layers, bidirectional) -> ModelSpec:
    """Elman RNN / GRU / LSTM with torch's two biases: G*(H*I + H*H + 2H) per layer and direction,
    I = F for the first layer and D*H above it (D = 2 directions when bidirectional)."""
    from ..rnn import param_count
    gates, directions = GATES[kind], 2 if bidirectional else 1
    params = param_count(kind, features, hidden, num_layers=layers, bidirectional=bidirectional)
    macs, i_size = 0, features
    for _ in range(layers):
        macs += directions * time_steps * gates * hidden * (i_size + hidden)
        i_size = directions * hidden
    d = f"{directions}*" if directions > 1 else ""
    first = f"{d}{gates}*({hidden}*{features} + {hidden}*{hidden} + 2*{hidden})"
    formula = "D*G*(H*I + H*H + 2H)" if directions > 1 else "G*(H*I + H*H + 2H)"
    formula += f" = {first}"
    if layers > 1:
        above = (f"{layers - 1}*{d}{gates}*({hidden}*{directions * hidden} + {hidden}*{hidden} + "
                 f"2*{hidden})")
        formula += f" + {above}"
    formula += f" = {params:,}"
    if layers > 1:
        formula += f" (layers above the first take I = {'D*' if directions > 1 else ''}H)"
    n_states = layers * directions
    shape = f"({batch}, {time_steps}, {directions * hidden}); h_n ({n_states}, {batch}, {hidden})"
    if kind == "lstm":
        shape += f", c_n ({n_states}, {batch}, {hidden})"
    return ModelSpec({"rnn": "RNN (tanh)", "gru": "GRU", "lstm": "LSTM"}[kind], params, formula,
                     shape, macs, time_steps * layers)


def _median_seconds(fn, repeats, budget=3.0) -> float:
    """Median of up to ``repeats`` timed calls after one warm-up call (which compiles); stops
    early once the timed calls took ``budget`` seconds together (one call at the least)."""
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if sum(times) >= budget:
            break
    return float(np.median(times))


def measure(kind, x, hidden, kernel, layers, bidirectional, repeats, device):
    """(fastseq seconds or None, torch seconds or None) for one forward pass of a batch.

    On ``device="cuda"`` fastseq gets a CuPy input and torch (when it has CUDA) runs there too;
    both sides synchronise before the clock stops."""
    torch = optional_import("torch")
    batch, time_steps, features = x.shape
    where = torch_peer_device(torch, device)
    peer_gpu = where == "cuda"

    def torch_call(module, xt):
        def call():
            module(xt)
            if peer_gpu:
                torch.cuda.synchronize()
        return call

    fast = peer = None
    if kind == "conv":
        if torch is not None:
            mods = [torch.nn.Conv1d(features if i == 0 else hidden, hidden, kernel)
                    for i in range(layers)]
            net = torch.nn.Sequential(*mods).eval().to(where)
            xt = torch.from_numpy(x).transpose(1, 2).contiguous().to(where)
            with torch.inference_mode():
                peer = _median_seconds(torch_call(net, xt), repeats)
        return fast, peer
    import fastseq
    cls = {"rnn": fastseq.RNN, "gru": fastseq.GRU, "lstm": fastseq.LSTM}[kind]
    if torch is not None:
        tcls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind]
        tmod = tcls(features, hidden, num_layers=layers, batch_first=True,
                    bidirectional=bidirectional).eval()
        layer = cls.from_torch(tmod, device=device)
        tmod = tmod.to(where)
        xt = torch.from_numpy(x).to(where)
        with torch.inference_mode():
            peer = _median_seconds(torch_call(tmod, xt), repeats)
    else:
        layer = cls(features, hidden, num_layers=layers, batch_first=True,
                    bidirectional=bidirectional, device=device, random_state=0)
    xd = _backend.to_device(x, device)

    def fast_call():
        layer(xd)
        _backend.synchronize(device)
    fast = _median_seconds(fast_call, repeats)
    return fast, peer


def _ms(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e3:.3f} ms"


def run(args) -> int:
    from ._table import print_table
    device = _backend.resolve_device(args.device)
    batch, time_steps, features, hidden = args.batch, args.time, args.features, args.hidden
    kernel, layers = args.kernel, args.layers
    if time_steps - layers * (kernel - 1) < 1:
        raise ValueError(f"--kernel: {layers} layer(s) of kernel {kernel} need --time >= "
                         f"{layers * (kernel - 1) + 1}, got {time_steps}")
    specs = {"conv": conv_spec(batch, time_steps, features, hidden, kernel, layers)}
    for kind in ("rnn", "gru", "lstm"):
        specs[kind] = recurrent_spec(kind, batch, time_steps, features, hidden, layers,
                                     args.bidirectional)
    x = np.random.default_rng(0).standard_normal((batch, time_steps, features), dtype=np.float32)
    print(f"input (B={batch}, T={time_steps}, F={features}), hidden H={hidden}, kernel k={kernel}, "
          f"layers {layers}{', bidirectional' if args.bidirectional else ''}; float32, inference")
    rows = []
    for kind, spec in specs.items():
        fast, peer = measure(kind, x, hidden, kernel, layers, args.bidirectional, args.repeats,
                             device)
        rows.append([spec.name, f"{spec.params:,}", spec.output_shape, f"{spec.macs:,}",
                     str(spec.sequential_steps), _ms(fast),
                     _ms(None if fast is None else fast / batch), _ms(peer),
                     _ms(None if peer is None else peer / batch)])
    print_table(["model", "params", "output shape", "MACs / sequence", "sequential steps",
                 "fastseq / batch", "fastseq / sample", "torch / batch", "torch / sample"], rows)
    print("\nparameter formulas (torch's convention: two bias vectors per recurrent layer):")
    for spec in specs.values():
        print(f"  {spec.name:<11} {spec.formula}")
    if args.bidirectional:
        print("  (the convolution has no direction; bidirectional applies to the recurrent layers)")
    print(f"\nlatency: median of up to {args.repeats} forward passes after a warm-up (at most "
          f"about 3 s of passes per model), on {device}; {_threads()}. The convolution runs on "
          "torch only (fastseq has no convolution).")
    print("The convolution's steps run in parallel over time (one step per layer); a recurrent "
          "layer must run its T steps one after another.")
    return 0


def _threads() -> str:
    import numba
    text = f"numba {numba.get_num_threads()} threads"
    torch = optional_import("torch")
    if torch is None:
        return text + ", torch not installed"
    return text + f", torch {torch.get_num_threads()} threads"
