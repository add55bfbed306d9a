"""The convolutional rows of ``fastseq compare``: the Conv1d stack and a TCN whose receptive field
covers the sequence, their sizes, and their whole-sequence timings on fastseq and torch.

The torch TCN is the same stack written with ``torch.nn.functional``: per block
``relu(conv(left-padded x)) + res(x)``, with a 1x1 projection where the channels change."""

from __future__ import annotations

from ._compare_timing import median_seconds
from ._peers import optional_import


def tcn_layout(time_steps: int, kernel: int):
    """(kernel, dilations) of the TCN that sees the whole sequence: dilations 1, 2, 4, ... until
    the receptive field 1 + (k - 1) * sum(d) reaches T (kernel 2 when k = 1, which never grows)."""
    k = max(kernel, 2)
    dilations = [1]
    while 1 + (k - 1) * sum(dilations) < time_steps:
        dilations.append(2 * dilations[-1])
    return k, dilations


def tcn_numbers(batch, time_steps, features, hidden, kernel):
    """(params, formula, output shape, MACs per sequence, blocks, receptive field)."""
    k, dilations = tcn_layout(time_steps, kernel)
    n = len(dilations)
    params = hidden * features * k + hidden + (n - 1) * (hidden * hidden * k + hidden)
    macs = time_steps * (hidden * features * k + (n - 1) * hidden * hidden * k)
    formula = f"H*F*k + H = {hidden}*{features}*{k} + {hidden}"
    if n > 1:
        formula += f" + {n - 1}*({hidden}*{hidden}*{k} + {hidden})"
    if features != hidden:   # the first block's 1x1 residual projection
        params += hidden * features + hidden
        macs += time_steps * hidden * features
        formula += f" + {hidden}*{features} + {hidden}"
    formula += f" = {params:,}"
    rf = 1 + (k - 1) * sum(dilations)
    return (params, formula, f"({batch}, {hidden}, {time_steps})", macs, n, rf, k, dilations)


def torch_conv_stack(torch, features, hidden, kernel, layers):
    return torch.nn.Sequential(*[torch.nn.Conv1d(features if i == 0 else hidden, hidden, kernel)
                                 for i in range(layers)]).eval()


def torch_tcn(torch, features, hidden, kernel, dilations):
    mods, c_prev = [], features
    for d in dilations:
        mods.append(torch.nn.Conv1d(c_prev, hidden, kernel, dilation=d))
        if c_prev != hidden:
            mods.append(torch.nn.Conv1d(c_prev, hidden, 1))
        c_prev = hidden
    return torch.nn.Sequential(*mods).eval()


def run_torch_tcn(torch, seq, x):
    """The torch TCN over x (B, C, T): per block relu(causal conv(x)) + res(x)."""
    fn = torch.nn.functional
    mods, i = list(seq.children()), 0
    while i < len(mods):
        m = mods[i]
        pad = (m.kernel_size[0] - 1) * m.dilation[0]
        h = torch.relu(fn.conv1d(fn.pad(x, (pad, 0)), m.weight, m.bias, dilation=m.dilation[0]))
        if h.shape[1] != x.shape[1]:
            i += 1
            x = h + mods[i](x)
        else:
            x = h + x
        i += 1
    return x


def measure_conv(x, hidden, kernel, layers, repeats):
    """(fastseq seconds, torch seconds or None) for the Conv1d stack over a (B, T, F) batch
    (CPU). Without torch, fastseq runs its own randomly initialised stack."""
    import numpy as np

    import fastseq
    torch = optional_import("torch")
    features = x.shape[2]
    xc = np.ascontiguousarray(x.transpose(0, 2, 1))
    peer = None
    if torch is not None:
        net = torch_conv_stack(torch, features, hidden, kernel, layers)
        convs = [fastseq.Conv1d.from_torch(m, device="cpu") for m in net]
        xt = torch.from_numpy(xc)
        with torch.inference_mode():
            peer = median_seconds(lambda: net(xt), repeats)
    else:
        convs = [fastseq.Conv1d(features if i == 0 else hidden, hidden, kernel, device="cpu",
                                random_state=i) for i in range(layers)]

    def fast():
        y = xc
        for conv in convs:
            y = conv(y)
    return median_seconds(fast, repeats), peer


def measure_tcn(x, hidden, kernel, repeats):
    """(fastseq seconds, torch seconds or None, the fastseq TCN, the torch stack or None)."""
    import numpy as np

    import fastseq
    torch = optional_import("torch")
    features, time_steps = x.shape[2], x.shape[1]
    k, dilations = tcn_layout(time_steps, kernel)
    xc = np.ascontiguousarray(x.transpose(0, 2, 1))
    peer = seq = None
    if torch is not None:
        seq = torch_tcn(torch, features, hidden, k, dilations)
        tcn = fastseq.TCN.from_torch(seq, device="cpu")
        xt = torch.from_numpy(xc)
        with torch.inference_mode():
            peer = median_seconds(lambda: run_torch_tcn(torch, seq, xt), repeats)
    else:
        tcn = fastseq.TCN(features, [hidden] * len(dilations), k, dilations, device="cpu",
                          random_state=0)
    return median_seconds(lambda: tcn(xc), repeats), peer, tcn, seq
