"""Shared helpers for the recurrent tests: torch reference runs on the same weights."""

import numpy as np
import torch

TOL = {np.float32: 2e-5, np.float64: 1e-11}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
LAYER = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
CELL = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}


def seed_torch(rng):
    torch.manual_seed(int(rng.integers(0, 2**31)))


def max_err(a, b):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def torch_layer(kind, input_size, hidden_size, dtype, nonlinearity="tanh", **kw):
    cls = LAYER[kind]
    if kind == "rnn":
        kw["nonlinearity"] = nonlinearity
    return cls(input_size, hidden_size, **kw).to(TORCH_DTYPE[dtype]).eval()


def torch_run(module, x, hx=None, lengths=None, batch_first=False):
    """torch's output and state; with lengths, through pack_padded_sequence(enforce_sorted=False)
    and pad_packed_sequence(total_length=T)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    x = torch.as_tensor(x)
    with torch.inference_mode():
        if lengths is None:
            return module(x, hx)
        T = x.shape[1] if batch_first else x.shape[0]
        packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=False)
        out, state = module(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        return out, state


def random_lengths(rng, batch, T):
    lengths = rng.integers(1, T + 1, size=batch)
    lengths[rng.integers(0, batch)] = T if rng.random() < 0.5 else lengths.max()
    return lengths
