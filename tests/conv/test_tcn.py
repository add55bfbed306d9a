"""TCN against the equivalent torch stack (relu and gated blocks, projections where the channels
change), from_torch / state_dict, the receptive field (formula and measured), bad input."""

import numpy as np
import pytest
import torch

import fastseq
from conv_reference import TOL, TORCH_DTYPE, rel_err, run_torch_tcn, seed_torch, torch_tcn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "gated"])
def test_matches_torch_stack(rng, dtype, activation):
    seed_torch(rng)
    for channels, kernel, dilations, bias in [([6, 6, 8], 3, None, True),
                                              ([5], 2, [4], False),
                                              ([8, 4, 4, 7], 4, [1, 3, 2, 8], True)]:
        seq = torch_tcn(5, channels, kernel, dilations or [1, 2, 4], activation, dtype, bias)
        tcn = fastseq.TCN.from_torch(seq, activation=activation)
        assert tcn.channels == channels and tcn.dtype == dtype
        for shape in [(3, 5, 70), (5, 33)]:
            x = rng.standard_normal(shape).astype(dtype)
            want = run_torch_tcn(seq, torch.from_numpy(x)[None] if x.ndim == 2
                                 else torch.from_numpy(x), activation).numpy()
            got = tcn(x)
            assert got.shape == (want.shape if x.ndim == 3 else want.shape[1:])
            assert rel_err(got, want.reshape(got.shape)) <= TOL[dtype], (channels, shape)


def test_built_from_arguments_loads_into_torch(rng):
    tcn = fastseq.TCN(3, [4, 4, 6], kernel_size=3, random_state=int(rng.integers(1000)))
    assert tcn.dilations == [1, 2, 4]
    seq = torch_tcn(3, [4, 4, 6], 3, [1, 2, 4], "relu", np.float32)
    seq.load_state_dict({k: torch.from_numpy(v) for k, v in tcn.state_dict().items()})
    x = rng.standard_normal((2, 3, 40)).astype(np.float32)
    assert rel_err(tcn(torch.from_numpy(x)).numpy(),
                   run_torch_tcn(seq, torch.from_numpy(x), "relu").numpy()) <= 1e-5
    assert tcn.num_parameters() == sum(p.numel() for p in seq.parameters())


@pytest.mark.parametrize("kernel, dilations", [(3, [1, 2, 4, 8, 16, 32]), (2, [1, 1, 5]),
                                               (5, [3]), (1, [1, 2])])
def test_receptive_field_formula_and_measured(rng, kernel, dilations):
    tcn = fastseq.TCN(2, [3] * len(dilations), kernel, dilations, dtype=np.float64,
                      random_state=int(rng.integers(1000)))
    rf = 1 + sum((kernel - 1) * d for d in dilations)
    assert tcn.receptive_field == rf
    # positive weights and inputs keep every relu open, so every path through the stack carries
    # a change: the output at t_end moves with inputs t_end - rf + 1 .. t_end and nothing before
    tcn.load_state_dict({k: np.abs(v) + 0.1 for k, v in tcn.state_dict().items()})
    t_end = rf + 5
    x = np.abs(rng.standard_normal((1, 2, t_end + 1)))
    base = tcn(x)[0, :, t_end]
    for t, changes in [(t_end - rf, False), (t_end - rf + 1, True), (t_end, True)]:
        xp = x.copy()
        xp[0, :, t] += 10.0
        moved = np.abs(tcn(xp)[0, :, t_end] - base).max()
        assert (moved > 1e-9) == changes, (t, moved)


def test_bad_arguments():
    with pytest.raises(TypeError, match="channels: expected a non-empty list"):
        fastseq.TCN(3, [])
    with pytest.raises(ValueError, match="dilations: expected a list of 2"):
        fastseq.TCN(3, [4, 4], dilations=[1])
    with pytest.raises(ValueError, match=r"dilations\[1\]: expected an integer >= 1"):
        fastseq.TCN(3, [4, 4], dilations=[1, 0])
    with pytest.raises(ValueError, match="activation"):
        fastseq.TCN(3, [4], activation="tanh")
    tcn = fastseq.TCN(3, [4])
    with pytest.raises(ValueError, match="expected 3 channels"):
        tcn(np.zeros((1, 4, 10), np.float32))
    with pytest.raises(TypeError, match="Sequential of torch.nn.Conv1d"):
        fastseq.TCN.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="1x1 projection"):
        fastseq.TCN.from_torch(torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3)))
    with pytest.raises(ValueError, match="stride 1"):
        fastseq.TCN.from_torch(torch.nn.Sequential(torch.nn.Conv1d(2, 2, 3, stride=2)))
