"""Shared helpers of the fastseq.nn tests: a fastseq module and torch's on the same weights."""

import numpy as np
import torch

import fastseq.nn as fnn

KINDS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
LAYERS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
CELLS = {"lstm": "LSTMCell", "gru": "GRUCell", "rnn": "RNNCell"}
DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def seed_torch(rng):
    torch.manual_seed(int(rng.integers(0, 2**31)))


def layer_pair(rng, kind, nonlinearity, dtype, *args, cell=False, **kw):
    """(fastseq module, torch module) of one kind with torch's initialisation and equal
    weights."""
    seed_torch(rng)
    name = (CELLS if cell else LAYERS)[kind]
    if kind == "rnn":
        kw["nonlinearity"] = nonlinearity
    ref = getattr(torch.nn, name)(*args, **kw).to(dtype)
    ours = getattr(fnn, name)(*args, **kw).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def random_lengths(rng, batch, seq_len):
    """Lengths in 1..seq_len with at least one full-length sequence."""
    lengths = rng.integers(1, seq_len + 1, size=batch)
    lengths[rng.integers(batch)] = seq_len
    return torch.as_tensor(lengths)


def torch_packed(module, x, hx, lengths):
    """torch's (output padded to T with zeros, state) through a packed sequence."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    T = x.shape[1] if module.batch_first else x.shape[0]
    packed = pack_padded_sequence(x, lengths, batch_first=module.batch_first,
                                  enforce_sorted=False)
    out, state = module(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=T)
    return out, state


def flat(out_state):
    """The output and state tensors of a call as one list."""
    out, state = out_state
    return [out] + (list(state) if isinstance(state, tuple) else [state])


def rel_err(a, b):
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30))
