"""``fastseq compare``: the classic sequence-model comparison, made executable.

For a 1D convolution (kernel k, F -> H channels, no padding), a TCN whose receptive field covers
the sequence, an Elman RNN, a GRU and an LSTM of the same sizes: parameter counts (torch's two-bias
convention, with the formula), output shapes, multiply-accumulates per sequence, how many steps
must run one after another, the measured latency per batch and per sample for whole sequences and
per streamed step (B = 1), for fastseq and for torch when it is installed, and which models stay
within a latency budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _backend
from .._defaults import GATES
from . import _compare_conv
from ._compare_stream import stream_step_seconds
from ._compare_timing import median_seconds
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


def tcn_spec(batch, time_steps, features, hidden, kernel) -> ModelSpec:
    """The TCN of :func:`_compare_conv.tcn_layout`: H channels per block, relu, residuals."""
    params, formula, shape, macs, blocks, rf, k, dilations = _compare_conv.tcn_numbers(
        batch, time_steps, features, hidden, kernel)
    return ModelSpec("TCN", params, formula, shape, macs, blocks)


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

    if kind in ("conv", "tcn") and device != "cpu":
        return None, None   # the convolutions run on the CPU only so far
    if kind == "conv":
        return _compare_conv.measure_conv(x, hidden, kernel, layers, repeats)
    if kind == "tcn":
        return _compare_conv.measure_tcn(x, hidden, kernel, repeats)[:2]
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
            peer = median_seconds(torch_call(tmod, xt), repeats)
    else:
        layer = cls(features, hidden, num_layers=layers, batch_first=True,
                    bidirectional=bidirectional, device=device, random_state=0)
    xd = _backend.to_device(x, device)

    def fast_call():
        layer(xd)
        _backend.synchronize(device)
    fast = median_seconds(fast_call, repeats)
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
    specs = {"conv": conv_spec(batch, time_steps, features, hidden, kernel, layers),
             "tcn": tcn_spec(batch, time_steps, features, hidden, kernel)}
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
        step_fast, step_peer = stream_step_seconds(kind, features, hidden, kernel, layers,
                                                   time_steps, args.bidirectional, args.repeats)
        per_sample = None if fast is None else fast / batch
        rows.append([spec.name, f"{spec.params:,}", spec.output_shape, f"{spec.macs:,}",
                     str(spec.sequential_steps), _ms(fast), _ms(per_sample), _ms(peer),
                     _ms(None if peer is None else peer / batch), _us(step_fast),
                     _us(step_peer), _within(per_sample, step_fast, args.budget_ms)])
    print_table(["model", "params", "output shape", "MACs / sequence", "sequential steps",
                 "fastseq / batch", "fastseq / sample", "torch / batch", "torch / sample",
                 "fastseq / step", "torch / step", f"fastseq within {args.budget_ms:g} ms"], rows)
    print("\nparameter formulas (torch's convention: two bias vectors per recurrent layer):")
    for spec in specs.values():
        print(f"  {spec.name:<11} {spec.formula}")
    if args.bidirectional:
        print("  (the convolution has no direction; bidirectional applies to the recurrent layers)")
    print(f"\nlatency: median of up to {args.repeats} forward passes after a warm-up (at most "
          f"about 3 s of passes per model), on {device}; {_threads()}. Both convolutions run on "
          "fastseq's CPU kernels.")
    k, dilations = _compare_conv.tcn_layout(time_steps, kernel)
    print(f"TCN: {len(dilations)} causal residual blocks of kernel {k}, dilations "
          f"{dilations}, receptive field {1 + (k - 1) * sum(dilations)} >= T = {time_steps}.")
    print("step: one new sample of one sequence (B = 1), the mean of 64 streamed steps; fastseq "
          "carries a ring buffer per convolution (init_state / step), torch re-runs its "
          "convolutions over the receptive field; a bidirectional layer cannot stream.")
    print(f"within {args.budget_ms:g} ms: 'sequence' when fastseq's per-sample time for whole "
          "sequences is within the budget, 'step' when one streamed step is.")
    print("The convolutions' steps run in parallel over time (one step per layer); a recurrent "
          "layer must run its T steps one after another.")
    return 0


def _us(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e6:.1f} us"


def _within(per_sample, step, budget_ms):
    ok = [name for name, s in (("sequence", per_sample), ("step", step))
          if s is not None and s * 1e3 <= budget_ms]
    return " + ".join(ok) if ok else "no"


def _threads() -> str:
    import numba
    text = f"numba {numba.get_num_threads()} threads"
    torch = optional_import("torch")
    if torch is None:
        return text + ", torch not installed"
    return text + f", torch {torch.get_num_threads()} threads"
