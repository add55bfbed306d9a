"""Streaming latency for ``fastseq compare``: one new sample of one sequence (B = 1) through each
model, on fastseq (``init_state`` / ``step``) and on torch.

torch has no streaming convolution: its Conv1d stack and its TCN re-run over the last receptive
field of inputs to produce the newest output, the usual way without a ring buffer; its recurrent
layers run one step from the carried state."""

from __future__ import annotations

import numpy as np

from ._compare_conv import run_torch_tcn, tcn_layout, torch_conv_stack, torch_tcn
from ._compare_timing import median_seconds
from ._peers import optional_import

STEPS = 64   # steps per timed call: the per-step figure is their mean


def _fastseq_model(kind, features, hidden, kernel, layers, time_steps, torch_module):
    import fastseq
    if kind == "conv":
        convs = []
        for i in range(layers):
            conv = fastseq.Conv1d(features if i == 0 else hidden, hidden, kernel, causal=True,
                                  device="cpu", random_state=i)
            if torch_module is not None:
                conv.load_state_dict(torch_module[i].state_dict())
            convs.append(conv)
        return convs
    if kind == "tcn":
        if torch_module is not None:
            return [fastseq.TCN.from_torch(torch_module, device="cpu")]
        k, dilations = tcn_layout(time_steps, kernel)
        return [fastseq.TCN(features, [hidden] * len(dilations), k, dilations, device="cpu")]
    cls = {"rnn": fastseq.RNN, "gru": fastseq.GRU, "lstm": fastseq.LSTM}[kind]
    if torch_module is not None:
        return [cls.from_torch(torch_module, device="cpu")]
    return [cls(features, hidden, num_layers=layers, device="cpu", random_state=0)]


def stream_step_seconds(kind, features, hidden, kernel, layers, time_steps, bidirectional,
                        repeats):
    """(fastseq seconds per step, torch seconds per step or None); (None, None) for a
    bidirectional recurrent layer, which cannot stream."""
    if bidirectional and kind in ("rnn", "gru", "lstm"):
        return None, None
    torch = optional_import("torch")
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((STEPS, features), dtype=np.float32)
    tmod = window = None
    if torch is not None:
        if kind == "conv":
            tmod = torch_conv_stack(torch, features, hidden, kernel, layers)
            window = 1 + layers * (kernel - 1)
        elif kind == "tcn":
            k, dilations = tcn_layout(time_steps, kernel)
            tmod = torch_tcn(torch, features, hidden, k, dilations)
            window = 1 + (k - 1) * sum(dilations)
        else:
            tcls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind]
            tmod = tcls(features, hidden, num_layers=layers, batch_first=True).eval()
    models = _fastseq_model(kind, features, hidden, kernel, layers, time_steps, tmod)
    states = [m.init_state(1) for m in models]

    def fast():
        for t in range(STEPS):
            y = xs[t]
            for model, state in zip(models, states):
                y, _ = model.step(y, state)
    fast_s = median_seconds(fast, repeats, budget=1.0, per_call=STEPS)
    if torch is None:
        return fast_s, None
    if kind in ("conv", "tcn"):
        hist = torch.from_numpy(rng.standard_normal((1, features, window), dtype=np.float32))

        def peer():
            for _ in range(STEPS):
                if kind == "conv":
                    tmod(hist)
                else:
                    run_torch_tcn(torch, tmod, hist)[:, :, -1]
    else:
        steps = torch.from_numpy(xs).reshape(STEPS, 1, 1, features)
        hx = [None]

        def peer():
            for t in range(STEPS):
                _, hx[0] = tmod(steps[t], hx[0])
    with torch.inference_mode():
        peer_s = median_seconds(peer, repeats, budget=1.0, per_call=STEPS)
    return fast_s, peer_s
