"""Parameter counts, shape helpers, state_dict round trips and the public API surface."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import fastseq
from fastseq.rnn import hidden_shape, output_shape, param_count
from rnn_reference import max_err, seed_torch, torch_layer

FASTSEQ = {"lstm": fastseq.LSTM, "gru": fastseq.GRU, "rnn": fastseq.RNN}


def test_param_count_reference_numbers():
    assert param_count("lstm", 64, 128) == 99_328
    assert param_count("gru", 64, 128) == 74_496
    assert param_count("rnn", 64, 128) == 24_832
    assert param_count("LSTM", 64, 128, bias=False) == 99_328 - 2 * 512


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers,bidirectional,bias", [(1, False, True), (2, True, True),
                                                           (3, True, False), (2, False, False)])
def test_param_count_and_num_parameters_equal_torch(kind, num_layers, bidirectional, bias):
    for proj in ([0, 5] if kind == "lstm" else [0]):
        t = torch_layer(kind, 13, 17, np.float32, num_layers=num_layers,
                        bidirectional=bidirectional, bias=bias,
                        **({"proj_size": proj} if proj else {}))
        n = sum(p.numel() for p in t.parameters())
        assert param_count(kind, 13, 17, num_layers, bidirectional, bias, proj) == n
        kw = {"proj_size": proj} if proj else {}
        f = FASTSEQ[kind](13, 17, num_layers, bias=bias, bidirectional=bidirectional, **kw)
        assert f.num_parameters() == n


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("proj", [0, 3])
def test_shape_helpers_match_torch(bidirectional, batch_first, proj):
    T, B, I, H, L = 6, 4, 5, 7, 2
    t = torch_layer("lstm", I, H, np.float32, num_layers=L, bidirectional=bidirectional,
                    batch_first=batch_first, proj_size=proj)
    x = torch.randn((B, T, I) if batch_first else (T, B, I))
    with torch.no_grad():
        out, (h, c) = t(x)
        out1, (h1, c1) = t(x[0] if batch_first else x[:, 0])
    kw = dict(bidirectional=bidirectional, proj_size=proj)
    assert output_shape(T, B, H, batch_first=batch_first, **kw) == tuple(out.shape)
    assert output_shape(T, B, H, batched=False, **kw) == tuple(out1.shape)
    assert hidden_shape(L, B, H, **kw) == tuple(h.shape)
    assert hidden_shape(L, B, H, cell=True, **kw) == tuple(c.shape)
    assert hidden_shape(L, B, H, batched=False, **kw) == tuple(h1.shape)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_state_dict_round_trip(rng, kind):
    seed_torch(rng)
    t = torch_layer(kind, 5, 6, np.float64, num_layers=2, bidirectional=True)
    f = FASTSEQ[kind](5, 6, 2, bidirectional=True, dtype=np.float64, random_state=1)
    x = rng.standard_normal((4, 3, 5))
    f.load_state_dict(t.state_dict())  # torch tensors in
    with torch.no_grad():
        want = t(torch.from_numpy(x))[0]
    assert max_err(f(x)[0], want) <= 1e-11
    sd = f.state_dict()
    assert list(sd) == list(t.state_dict()) and all(isinstance(v, np.ndarray) for v in sd.values())
    sd["weight_ih_l0"][:] = 0  # a copy: the layer is unchanged
    assert max_err(f(x)[0], want) <= 1e-11
    g = FASTSEQ[kind](5, 6, 2, bidirectional=True, dtype=np.float64).load_state_dict(f.state_dict())
    assert np.array_equal(g(x)[0], f(x)[0])
    t2 = torch_layer(kind, 5, 6, np.float64, num_layers=2, bidirectional=True)
    t2.load_state_dict({k: torch.from_numpy(v) for k, v in f.state_dict().items()})
    with torch.no_grad():
        assert max_err(t2(torch.from_numpy(x))[0], want) == 0
    # loading new weights invalidates the cached prepared weights
    f.load_state_dict({k: np.zeros_like(v) for k, v in sd.items()})
    assert np.abs(f(x)[0]).max() == 0


def test_float32_layer_loads_float64_weights(rng):
    t = torch_layer("gru", 3, 4, np.float64)
    f = fastseq.GRU(3, 4).load_state_dict(t.state_dict())
    assert f.weight_ih_l0.dtype == np.float32


def test_dropout_is_an_inference_no_op_with_a_warning(rng):
    with pytest.warns(UserWarning, match="dropout=0.5 is ignored"):
        f = fastseq.GRU(3, 4, num_layers=2, dropout=0.5)
    t = torch_layer("gru", 3, 4, np.float32, num_layers=2, dropout=0.5)
    with pytest.warns(UserWarning, match="dropout"):
        f = fastseq.GRU.from_torch(t)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    with torch.no_grad():
        assert max_err(f(x)[0], t.eval()(torch.from_numpy(x))[0]) <= 2e-5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastseq.GRU(3, 4, num_layers=2)


def test_public_names_and_light_import():
    for name in ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"]:
        assert name in fastseq.__all__ and getattr(fastseq, name) is getattr(fastseq.rnn, name)
    code = ("import sys, numpy as np, fastseq; f = fastseq.LSTM(3, 4, device='cpu'); "
            "f(np.zeros((2, 1, 3), np.float32)); "
            "assert 'torch' not in sys.modules and 'cupy' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = "import sys, fastseq; assert 'numba' not in sys.modules and 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_repr_mentions_configuration():
    r = repr(fastseq.LSTM(3, 8, 2, bidirectional=True, proj_size=4))
    assert "LSTM(3, 8" in r and "proj_size=4" in r and "bidirectional=True" in r
    assert "nonlinearity='relu'" in repr(fastseq.RNN(3, 4, nonlinearity="relu"))
