"""The CPU recurrence's building blocks: the float32 gate activations (error bound, exact
saturation, NaN), the packed recurrent product against float64 NumPy, the time-blocked input
projection, and bit-identical results whatever the thread count."""

import numba
import numpy as np
import pytest
import torch
from numba import njit

import fastseq
from fastseq.rnn import _stack_cpu
from fastseq.rnn._gate_math import TANH_CLAMP, TANH_MAX_ABS_ERROR, sigmoid, tanh
from fastseq.rnn._packed_product import pack_recurrent, packed_product
from rnn_reference import max_err, random_lengths, seed_torch, torch_layer, torch_run

FASTSEQ = {"lstm": fastseq.LSTM, "gru": fastseq.GRU, "rnn": fastseq.RNN}


@njit
def _apply(x, out_t, out_s):
    for i in range(x.shape[0]):
        out_t[i] = tanh(x[i])
        out_s[i] = sigmoid(x[i])


def _activations(x):
    t, s = np.empty_like(x), np.empty_like(x)
    _apply(x, t, s)
    return t, s


def test_float32_tanh_and_sigmoid_within_bound(rng):
    x = np.concatenate([np.linspace(-20, 20, 400_001), 30 * rng.standard_normal(10_000),
                        np.linspace(5.7, 5.95, 200_001)])        # around the worst case
    x = x.astype(np.float32)
    t, s = _activations(x)
    x = x.astype(np.float64)                                     # the reference on the same inputs
    assert np.abs(t - np.tanh(x)).max() <= TANH_MAX_ABS_ERROR
    assert np.abs(s - 1 / (1 + np.exp(-x))).max() <= TANH_MAX_ABS_ERROR


def test_float32_activations_saturate_exactly():
    big = np.array([TANH_CLAMP * 1.0001, 9, 50, 1e30, np.inf], dtype=np.float32)
    t, s = _activations(np.concatenate([big, -big]))
    np.testing.assert_array_equal(t, np.r_[np.ones(5), -np.ones(5)].astype(np.float32))
    _, s_big = _activations(np.array([15.9, 17, 100, np.inf], dtype=np.float32))
    np.testing.assert_array_equal(s_big, np.ones(4, dtype=np.float32))
    _, s_small = _activations(np.array([-15.9, -100, -np.inf], dtype=np.float32))
    np.testing.assert_array_equal(s_small, np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_nan(dtype):
    t, s = _activations(np.array([np.nan, 1.0], dtype=dtype))
    assert np.isnan(t[0]) and np.isnan(s[0]) and np.isfinite(t[1]) and np.isfinite(s[1])


@njit
def _product(h, panels, bias, gates, tail):
    packed_product(h, panels, bias, gates, tail)


@pytest.mark.parametrize("m,k,n", [(1, 7, 16), (6, 128, 512), (9, 33, 1100), (4, 4, 2048)])
def test_packed_product_matches_float64(rng, m, k, n):
    w = rng.standard_normal((n, k))
    b = rng.standard_normal(n)
    h = rng.standard_normal((m, k))
    panels, bias = pack_recurrent(w, b, np.float64)
    assert panels.shape[1] % 8 == 0 and panels.shape[0] * panels.shape[2] >= n
    hp = np.zeros((m, panels.shape[1]))
    hp[:, :k] = h
    gates = np.empty((m, bias.shape[0]))
    _product(hp, panels, bias, gates, m - m % 4)
    np.testing.assert_allclose(gates[:, :n], b + h @ w.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(gates[:, n:], 0)


@pytest.mark.parametrize("kind,nonlinearity", [("lstm", "tanh"), ("gru", "tanh"),
                                               ("rnn", "relu")])
def test_time_blocks_match_torch(rng, monkeypatch, kind, nonlinearity):
    """Projection blocks of 3 steps (T = 20, variable lengths, both directions) give torch's
    numbers: the state is carried across blocks, the reverse direction walks them backwards."""
    I, H, T, B = 5, 8, 20, 7
    seed_torch(rng)
    m = torch_layer(kind, I, H, np.float64, nonlinearity, num_layers=2, bidirectional=True)
    f = FASTSEQ[kind].from_torch(m, device="cpu")
    G = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    monkeypatch.setattr(_stack_cpu, "RNN_PROJECTION_BLOCK_BYTES", 3 * B * G * H * 8)
    assert _stack_cpu.block_steps(B, G * H, 8, T) == 3
    x = rng.standard_normal((T, B, I))
    lengths = random_lengths(rng, B, T)
    out, state = f(x, lengths=lengths)
    t_out, t_state = torch_run(m, torch.from_numpy(x), lengths=lengths)
    assert max_err(out, t_out) <= 1e-11
    h = state[0] if kind == "lstm" else state
    assert max_err(h, t_state[0] if kind == "lstm" else t_state) <= 1e-11


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("B", [3, 6, 32])
def test_bit_identical_for_any_thread_count(rng, kind, B):
    f = FASTSEQ[kind](12, 24, num_layers=2, bidirectional=True, random_state=int(rng.integers(99)))
    x = rng.standard_normal((15, B, 12)).astype(np.float32)
    lengths = random_lengths(rng, B, 15)
    before = numba.get_num_threads()
    results = []
    try:
        for n in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS), numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n)
            out, state = f(x, lengths=lengths)
            results.append((out, state[0] if kind == "lstm" else state))
    finally:
        numba.set_num_threads(before)
    for out, h in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(h, results[0][1])


def test_lstm_cell_state_under_sustained_saturation(rng):
    """Input and forget gates held open for 300 steps: |c| grows to hundreds and stays within 2e-6
    of torch relative to its size, because the open gates are exactly 1 (with gates that stop
    at 1 - 6e-8 the relative error was 1.9e-5)."""
    I, H, T, B = 4, 8, 300, 2
    seed_torch(rng)
    m = torch_layer("lstm", I, H, np.float32, "tanh")
    with torch.no_grad():
        m.weight_hh_l0.zero_()
        m.weight_ih_l0.zero_()
        m.bias_hh_l0.zero_()
        m.bias_ih_l0.copy_(torch.tensor([20.0] * H + [20.0] * H + [5.0] * H + [20.0] * H))
        m.weight_ih_l0[2 * H:3 * H].normal_()
    f = fastseq.LSTM.from_torch(m, device="cpu")
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    _, (h, c) = f(x)
    _, (t_h, t_c) = torch_run(m, torch.from_numpy(x))
    t_c = t_c.numpy()
    assert np.abs(t_c).max() > 100
    assert np.abs(c - t_c).max() <= 2e-6 * np.abs(t_c).max()
    assert max_err(h, t_h) <= 2e-5
