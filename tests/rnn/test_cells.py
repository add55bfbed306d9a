"""LSTMCell / GRUCell / RNNCell against torch: one step and long saturated loops."""

import numpy as np
import pytest
import torch

import fastseq
from rnn_reference import CELL, TOL, TORCH_DTYPE, max_err, seed_torch

FASTSEQ = {"lstm": fastseq.LSTMCell, "gru": fastseq.GRUCell, "rnn": fastseq.RNNCell}
KINDS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]


def make_pair(rng, kind, nonlinearity, dtype, I, H, bias=True):
    seed_torch(rng)
    kw = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    m = CELL[kind](I, H, bias=bias, **kw).to(TORCH_DTYPE[dtype])
    return m, FASTSEQ[kind].from_torch(m, device="cpu")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [None, 1, 9])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind,nonlinearity", KINDS)
def test_cell_one_step_matches_torch(rng, kind, nonlinearity, bias, with_state, batch, dtype):
    I, H = 7, 5
    m, f = make_pair(rng, kind, nonlinearity, dtype, I, H, bias)
    lead = () if batch is None else (batch,)
    x = rng.standard_normal(lead + (I,)).astype(dtype)
    hx = None
    if with_state:
        h = rng.standard_normal(lead + (H,)).astype(dtype)
        hx = (h, rng.standard_normal(lead + (H,)).astype(dtype)) if kind == "lstm" else h
    got = f(x, hx)
    with torch.no_grad():
        thx = None if hx is None else (tuple(map(torch.from_numpy, hx)) if kind == "lstm"
                                       else torch.from_numpy(hx))
        want = m(torch.from_numpy(x), thx)
    if kind == "lstm":
        assert got[0].shape == lead + (H,) and got[1].shape == lead + (H,)
        assert max_err(got[0], want[0]) <= TOL[dtype] and max_err(got[1], want[1]) <= TOL[dtype]
    else:
        assert got.shape == lead + (H,) and got.dtype == dtype
        assert max_err(got, want) <= TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,nonlinearity", KINDS)
def test_cell_long_loop_with_saturated_gates(rng, kind, nonlinearity, dtype):
    """T = 220 steps fed back through the cell; weights x4 and inputs x3 saturate the gates."""
    I, H, B, T = 8, 16, 3, 220
    m, f = make_pair(rng, kind, nonlinearity, dtype, I, H)
    if nonlinearity == "tanh":
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(4.0)
        f = FASTSEQ[kind].from_torch(m, device="cpu")
    xs = (3 * rng.standard_normal((T, B, I))).astype(dtype)
    state, tstate = None, None
    worst = 0.0
    with torch.no_grad():
        for t in range(T):
            state = f(xs[t], state)
            tstate = m(torch.from_numpy(xs[t]), tstate)
            pairs = zip(state, tstate) if kind == "lstm" else [(state, tstate)]
            worst = max(worst, *(max_err(a, b) for a, b in pairs))
    assert worst <= TOL[dtype]


def test_cell_torch_in_torch_out(rng):
    m, f = make_pair(rng, "lstm", "tanh", np.float32, 4, 3)
    x = torch.randn(2, 4)
    h, c = f(x)
    assert isinstance(h, torch.Tensor) and isinstance(c, torch.Tensor) and h.shape == (2, 3)
    with torch.no_grad():
        th, tc = m(x)
    assert max_err(h, th) <= 2e-5 and max_err(c, tc) <= 2e-5


def test_cell_parameters_and_state_dict(rng):
    for kind, cls in FASTSEQ.items():
        seed_torch(rng)
        t = CELL[kind](64, 128)
        f = cls(64, 128, random_state=0)
        assert f.num_parameters() == sum(p.numel() for p in t.parameters())
        assert list(f.state_dict()) == list(t.state_dict())
        f.load_state_dict(t.state_dict())
        assert np.array_equal(f.weight_hh, t.weight_hh.detach().numpy())
        t2 = CELL[kind](64, 128)
        t2.load_state_dict({k: torch.from_numpy(v) for k, v in f.state_dict().items()})
        assert torch.equal(t2.weight_ih, t.weight_ih)
    assert fastseq.RNNCell(3, 4, bias=False).num_parameters() == 4 * 3 + 4 * 4
