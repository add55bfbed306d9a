"""Streaming one step at a time equals the offline causal output over thousands of steps, for
Conv1d (causal, with groups and dilation) and TCN (relu and gated, projections); and the four
model kinds stream through the one interface; bad states."""

import numpy as np
import pytest
import torch

import fastseq
from conv_reference import TOL, rel_err


def stream(layer, x, batched=True):
    state = layer.init_state(x.shape[0] if batched else 1)
    steps = [layer.step(x[:, :, t] if batched else x[:, t], state)[0] for t in range(x.shape[-1])]
    return np.stack(steps, axis=-1), state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_causal_conv1d_streams_like_offline(rng, dtype):
    layer = fastseq.Conv1d(4, 6, 3, dilation=5, groups=2, causal=True, dtype=dtype,
                           random_state=int(rng.integers(1000)))
    x = rng.standard_normal((2, 4, 2000)).astype(dtype)
    got, state = stream(layer, x)
    assert state.t == 2000
    assert rel_err(got, layer(x)) <= TOL[dtype]
    x1 = x[0, :, :50]
    got1, _ = stream(layer, x1, batched=False)
    assert rel_err(got1, layer(x1)) <= TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "gated"])
def test_tcn_streams_like_offline_over_2000_steps(rng, dtype, activation):
    tcn = fastseq.TCN(3, [8, 8, 5, 5], kernel_size=3, dilations=[1, 2, 4, 8],
                      activation=activation, dtype=dtype, random_state=int(rng.integers(1000)))
    x = rng.standard_normal((2, 3, 2000)).astype(dtype)
    got, _ = stream(tcn, x)
    assert rel_err(got, tcn(x)) <= TOL[dtype] * 10   # a 4-block residual sum of 2000 steps


def test_kernel_one_has_no_buffer_and_torch_tensors_stream(rng):
    tcn = fastseq.TCN(2, [3, 3], kernel_size=1, random_state=0)
    x = rng.standard_normal((1, 2, 30)).astype(np.float32)
    state = tcn.init_state(1)
    ys = [tcn.step(torch.from_numpy(x[:, :, t]), state)[0] for t in range(30)]
    assert isinstance(ys[0], torch.Tensor)
    assert rel_err(torch.stack(ys, -1).numpy(), tcn(x)) <= 1e-5


@pytest.mark.parametrize("cls", [fastseq.LSTM, fastseq.GRU, fastseq.RNN])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers_stream_through_the_same_interface(rng, cls, batch_first):
    layer = cls(3, 5, num_layers=2, batch_first=batch_first, random_state=int(rng.integers(99)))
    x = rng.standard_normal((2, 40, 3) if batch_first else (40, 2, 3)).astype(np.float32)
    want, _ = layer(x)
    state = layer.init_state(2)
    steps = [layer.step(x[:, t] if batch_first else x[t], state)[0] for t in range(40)]
    got = np.stack(steps, axis=1 if batch_first else 0)
    assert np.abs(got - want).max() <= 1e-6
    y, state1 = layer.step(x[0, 0], layer.init_state(1))
    assert y.shape == (5,)


def test_bad_states_and_steps():
    a = fastseq.TCN(3, [4])
    b = fastseq.TCN(3, [4])
    with pytest.raises(ValueError, match="another layer"):
        a.step(np.zeros((1, 3), np.float32), b.init_state(1))
    with pytest.raises(TypeError, match="StreamState"):
        a.step(np.zeros((1, 3), np.float32), None)
    with pytest.raises(ValueError, match="batch of 2"):
        a.step(np.zeros((1, 3), np.float32), a.init_state(2))
    with pytest.raises(ValueError, match="expected 3 channels"):
        a.step(np.zeros((1, 4), np.float32), a.init_state(1))
    with pytest.raises(TypeError, match="dtype float32"):
        a.step(np.zeros((1, 3)), a.init_state(1))
    with pytest.raises(ValueError, match="batch: expected an integer >= 1"):
        a.init_state(0)
    lstm = fastseq.LSTM(3, 4, bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional"):
        lstm.init_state(1)
    gru = fastseq.GRU(3, 4)
    with pytest.raises(ValueError, match="another layer"):
        gru.step(np.zeros((1, 3), np.float32), fastseq.GRU(3, 4).init_state(1))
    for layer in (gru, fastseq.Conv1d(3, 4, 3, causal=True)):  # refused, never converted
        with pytest.raises(TypeError, match="expected dtype float32.*got float64"):
            layer.step(np.zeros((1, 3)), layer.init_state(1))
        with pytest.raises(TypeError, match="floating-point.*got int64"):
            layer.step(np.zeros((1, 3), np.int64), layer.init_state(1))
    with pytest.raises(ValueError, match="causal"):
        fastseq.Conv1d(3, 4, 3).step(np.zeros((1, 3), np.float32), None)
