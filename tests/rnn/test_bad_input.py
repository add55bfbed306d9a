"""Every bad input fails early with a ValueError / TypeError that names the argument."""

import numpy as np
import pytest
import torch

import fastseq
from fastseq.rnn import hidden_shape, output_shape, param_count

F32 = np.float32


def x_of(shape, dtype=F32):
    return np.zeros(shape, dtype=dtype)


@pytest.mark.parametrize("cls", [fastseq.LSTM, fastseq.GRU, fastseq.RNN])
@pytest.mark.parametrize("kwargs,err,match", [
    (dict(input_size=0, hidden_size=4), ValueError, "input_size"),
    (dict(input_size=3, hidden_size=0), ValueError, "hidden_size"),
    (dict(input_size=3.5, hidden_size=4), TypeError, "input_size"),
    (dict(input_size=3, hidden_size=4, num_layers=0), ValueError, "num_layers"),
    (dict(input_size=3, hidden_size=4, bias="yes"), TypeError, "bias"),
    (dict(input_size=3, hidden_size=4, batch_first=1), TypeError, "batch_first"),
    (dict(input_size=3, hidden_size=4, bidirectional=None), TypeError, "bidirectional"),
    (dict(input_size=3, hidden_size=4, dropout=1.5), ValueError, "dropout"),
    (dict(input_size=3, hidden_size=4, dropout="0.1"), TypeError, "dropout"),
    (dict(input_size=3, hidden_size=4, device="tpu"), ValueError, "device"),
    (dict(input_size=3, hidden_size=4, dtype=np.int32), TypeError, "dtype"),
    (dict(input_size=3, hidden_size=4, dtype=np.complex64), TypeError, "dtype"),
    (dict(input_size=3, hidden_size=4, dtype="float8"), TypeError, "dtype"),
])
def test_bad_constructor_arguments(cls, kwargs, err, match):
    with pytest.raises(err, match=match):
        cls(**kwargs)


def test_bad_layer_specific_arguments():
    with pytest.raises(ValueError, match="proj_size.*< hidden_size"):
        fastseq.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size"):
        fastseq.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="nonlinearity.*'tanh' or 'relu'.*'sigmoid'"):
        fastseq.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        fastseq.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size"):
        fastseq.GRUCell(3, 0)
    with pytest.raises(TypeError, match="bias"):
        fastseq.LSTMCell(3, 4, bias=None)


@pytest.mark.parametrize("cls", [fastseq.LSTM, fastseq.GRU, fastseq.RNN])
def test_bad_x(cls):
    f = cls(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"x: expected 3 features \(input_size\).*got 5"):
        f(x_of((2, 6, 5)))
    with pytest.raises(ValueError, match="x: expected a 2-D or 3-D array, got a 4-D"):
        f(x_of((2, 6, 3, 1)))
    with pytest.raises(ValueError, match="x: expected a 2-D or 3-D array, got a 1-D"):
        f(x_of((3,)))
    with pytest.raises(ValueError, match="x: expected a non-empty array.*no time steps.*"
                                         r"got shape \(2, 0, 3\)"):
        f(x_of((2, 0, 3)))   # an empty batch is fine (test_torch_surface.py), no steps is not
    with pytest.raises(TypeError, match="x: expected dtype float32.*got float64"):
        f(x_of((2, 6, 3), np.float64))
    with pytest.raises(TypeError, match="x: expected dtype float32.*got torch.float64|got float64"):
        f(torch.zeros(2, 6, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="x: expected an array, got None"):
        f(None)
    with pytest.raises(TypeError, match="x: expected a real numeric array"):
        f(np.array([["a", "b", "c"]]))


def test_bad_hidden_state_shapes_and_types():
    f = fastseq.GRU(3, 4, num_layers=2, bidirectional=True)
    x = x_of((5, 2, 3))
    with pytest.raises(ValueError, match=r"hx: expected shape \(4, 2, 4\), got \(2, 2, 4\)"):
        f(x, x_of((2, 2, 4)))
    with pytest.raises(ValueError, match=r"hx: expected shape \(4, 2, 4\), got \(4, 4\)"):
        f(x, x_of((4, 4)))
    with pytest.raises(TypeError, match="hx: expected dtype float32"):
        f(x, x_of((4, 2, 4), np.float64))
    with pytest.raises(TypeError, match="hx: expected a single tensor"):
        f(x, (x_of((4, 2, 4)), x_of((4, 2, 4))))
    g = fastseq.LSTM(3, 4, proj_size=2)
    with pytest.raises(TypeError, match=r"hx: expected a tuple \(h0, c0\)"):
        g(x, x_of((1, 2, 2)))
    with pytest.raises(TypeError, match="hx: expected a tuple"):
        g(x, (x_of((1, 2, 2)),))
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(1, 2, 2\), got \(1, 2, 4\)"):
        g(x, (x_of((1, 2, 4)), x_of((1, 2, 4))))
    with pytest.raises(ValueError, match=r"hx\[1\]: expected shape \(1, 2, 4\), got \(1, 2, 2\)"):
        g(x, (x_of((1, 2, 2)), x_of((1, 2, 2))))
    with pytest.raises(ValueError, match=r"hx: expected shape \(4, 4\)"):
        f(x_of((5, 3)), x_of((4, 2, 4)))  # unbatched input, batched state


def test_bad_lengths():
    f = fastseq.LSTM(3, 4)
    x = x_of((6, 3, 3))
    with pytest.raises(ValueError, match=r"lengths: expected every length in 1\.\.6.*lengths\[1\] = 0"):
        f(x, lengths=[6, 0, 2])
    with pytest.raises(ValueError, match=r"lengths: expected every length in 1\.\.6.*= 7"):
        f(x, lengths=[6, 7, 2])
    with pytest.raises(ValueError, match=r"lengths: expected shape \(3,\).*got shape \(2,\)"):
        f(x, lengths=[6, 2])
    with pytest.raises(ValueError, match=r"lengths: expected shape \(3,\)"):
        f(x, lengths=np.ones((3, 1), np.int64))
    with pytest.raises(TypeError, match="lengths: expected integers, got dtype float64"):
        f(x, lengths=[6.0, 2.5, 1.0])
    with pytest.raises(TypeError, match="lengths: expected integers"):
        f(x, lengths=["a", "b", "c"])
    with pytest.raises(ValueError, match="lengths: expected None for an unbatched"):
        f(x_of((6, 3)), lengths=[6])


def test_bad_cell_inputs():
    c = fastseq.LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"input: expected 3 features.*got 2"):
        c(x_of((2, 2)))
    with pytest.raises(ValueError, match="input: expected a 1-D or 2-D array, got a 3-D"):
        c(x_of((1, 2, 3)))
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(2, 4\), got \(2, 5\)"):
        c(x_of((2, 3)), (x_of((2, 5)), x_of((2, 4))))
    with pytest.raises(TypeError, match=r"hx: expected a tuple \(h0, c0\)"):
        c(x_of((2, 3)), x_of((2, 4)))
    g = fastseq.GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"hx: expected shape \(4,\), got \(1, 4\)"):
        g(x_of((3,)), x_of((1, 4)))
    with pytest.raises(TypeError, match="input: expected dtype float32"):
        g(x_of((2, 3), np.float64))


def test_bad_weights():
    f = fastseq.GRU(3, 4)
    sd = f.state_dict()
    with pytest.raises(ValueError, match=r"state_dict: missing parameter\(s\) \['bias_hh_l0'\]"):
        f.load_state_dict({k: v for k, v in sd.items() if k != "bias_hh_l0"})
    with pytest.raises(ValueError, match=r"state_dict: unexpected parameter\(s\) \['extra'\]"):
        f.load_state_dict({**sd, "extra": np.zeros(1)})
    f.load_state_dict({**sd, "extra": np.zeros(1)}, strict=False)
    with pytest.raises(ValueError, match=r"state_dict\['weight_hh_l0'\]: expected shape \(12, 4\), "
                                         r"got \(4, 12\)"):
        f.load_state_dict({**sd, "weight_hh_l0": sd["weight_hh_l0"].T})
    bad = sd["bias_ih_l0"].copy()
    bad[2] = np.nan
    with pytest.raises(ValueError, match=r"state_dict\['bias_ih_l0'\]: expected finite weights, got 1"):
        f.load_state_dict({**sd, "bias_ih_l0": bad})
    with pytest.raises(TypeError, match="state_dict: expected a mapping"):
        f.load_state_dict([1, 2])
    with pytest.raises(TypeError, match=r"state_dict\['weight_ih_l0'\]: expected real numbers"):
        f.load_state_dict({**sd, "weight_ih_l0": torch.zeros(12, 3, dtype=torch.complex64)})
    with pytest.raises(TypeError, match=r"module: expected a torch.nn.GRU.*got torch.nn.modules.rnn.LSTM"):
        fastseq.GRU.from_torch(torch.nn.LSTM(3, 4))
    with pytest.raises(TypeError, match="module: expected a torch.nn.LSTMCell"):
        fastseq.LSTMCell.from_torch(torch.nn.LSTM(3, 4))
    with pytest.raises(TypeError, match="module: expected float32, float64, float16, bfloat16 "
                                        "parameters, got torch.complex64"):
        fastseq.LSTM.from_torch(torch.nn.LSTM(3, 4).to(torch.complex64))
    # a failed load leaves the weights as they were
    assert np.array_equal(f.weight_hh_l0, sd["weight_hh_l0"])


def test_bad_helper_arguments():
    with pytest.raises(ValueError, match="kind: expected one of 'lstm', 'gru', 'rnn', got 'conv'"):
        param_count("conv", 3, 4)
    with pytest.raises(TypeError, match="kind"):
        param_count(None, 3, 4)
    with pytest.raises(ValueError, match="proj_size: only LSTM"):
        param_count("gru", 3, 4, proj_size=2)
    with pytest.raises(ValueError, match="input_size"):
        param_count("lstm", 0, 4)
    with pytest.raises(ValueError, match="seq_len"):
        output_shape(0, 1, 4)
    with pytest.raises(TypeError, match="bidirectional"):
        hidden_shape(1, 1, 4, bidirectional="no")


def test_cuda_without_gpu_says_why():
    from fastseq._backend import gpu_status
    if gpu_status().available:
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="device='cuda' needs a usable CUDA device"):
        fastseq.GRU(3, 4, device="cuda")(x_of((2, 1, 3)))
