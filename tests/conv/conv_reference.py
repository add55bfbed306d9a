"""torch references for the convolution tests: the causal TCN written with F.conv1d, and the
relative error used for the tolerances."""

import numpy as np
import torch
import torch.nn.functional as F

TOL = {np.float32: 1e-5, np.float64: 1e-12}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def seed_torch(rng):
    torch.manual_seed(int(rng.integers(2**31)))


def torch_tcn(in_channels, channels, kernel, dilations, activation, dtype, bias=True):
    """The equivalent torch nn.Sequential: each block's conv, then a 1x1 projection where the
    channel count changes."""
    mods, c_prev = [], in_channels
    widen = 2 if activation == "gated" else 1
    for c, d in zip(channels, dilations):
        mods.append(torch.nn.Conv1d(c_prev, widen * c, kernel, dilation=d, bias=bias))
        if c != c_prev:
            mods.append(torch.nn.Conv1d(c_prev, c, 1))
        c_prev = c
    return torch.nn.Sequential(*mods).to(TORCH_DTYPE[dtype]).eval()


@torch.no_grad()
def run_torch_tcn(seq, x, activation):
    """x (B, C, T) tensor through the blocks: y = act(causal conv(x)) + res(x)."""
    mods, i = list(seq.children()), 0
    while i < len(mods):
        m = mods[i]
        d, k = m.dilation[0], m.kernel_size[0]
        z = F.conv1d(F.pad(x, ((k - 1) * d, 0)), m.weight, m.bias, dilation=d)
        if activation == "relu":
            h = torch.relu(z)
        else:
            c = z.shape[1] // 2
            h = torch.tanh(z[:, :c]) * torch.sigmoid(z[:, c:])
        if h.shape[1] != x.shape[1]:
            i += 1
            res = mods[i](x)
        else:
            res = x
        x = h + res
        i += 1
    return x
