"""fastseq.nn against torch's own modules on the same weights: outputs, states and gradients of
the input, the initial states and every parameter (float32 relative <= 1e-4, float64 <= 1e-10),
with packed sequences / lengths, batch_first, unbatched input, cells; state_dict both ways,
.double() / .to(), between-layer dropout in train() mode, torch.compile."""

import numpy as np
import pytest
import torch

import fastseq.nn as fnn
from nn_reference import KINDS, flat, layer_pair, random_lengths, rel_err, torch_packed

TOL = {torch.float32: 1e-4, torch.float64: 1e-10}


def grads_of(module, inputs, outputs, weights):
    """Gradients of sum(w_i * out_i) with respect to the inputs and the module's parameters."""
    loss = sum((o * w).sum() for o, w in zip(outputs, weights))
    return torch.autograd.grad(loss, list(inputs) + list(module.parameters()))


@pytest.mark.parametrize("kind_nl", KINDS, ids=lambda v: "-".join(v))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("layout", ["plain", "lengths", "batch_first", "unbatched"])
def test_layer_gradients_match_torch(rng, kind_nl, dtype, layout):
    kind, nl = kind_nl
    T, B, I, H, L = 7, 5, 4, 8, 2
    ours, ref = layer_pair(rng, kind, nl, dtype, I, H, num_layers=L, bidirectional=True,
                           batch_first=layout == "batch_first")
    shape = {"batch_first": (B, T, I), "unbatched": (T, I)}.get(layout, (T, B, I))
    x = torch.as_tensor(rng.standard_normal(shape), dtype=dtype).requires_grad_()
    sshape = (2 * L, H) if layout == "unbatched" else (2 * L, B, H)
    states = [torch.as_tensor(rng.standard_normal(sshape), dtype=dtype).requires_grad_()
              for _ in range(2 if kind == "lstm" else 1)]
    hx = tuple(states) if kind == "lstm" else states[0]
    if layout == "lengths":
        lengths = random_lengths(rng, B, T)
        got = flat(ours(x, hx, lengths=lengths))
        want = flat(torch_packed(ref, x, hx, lengths))
    else:
        got, want = flat(ours(x, hx)), flat(ref(x, hx))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        assert rel_err(g, w) <= TOL[dtype]
    weights = [torch.as_tensor(rng.standard_normal(w.shape), dtype=dtype) for w in want]
    for g, w in zip(grads_of(ours, [x] + states, got, weights),
                    grads_of(ref, [x] + states, want, weights)):
        assert rel_err(g, w) <= TOL[dtype]


@pytest.mark.parametrize("kind_nl", KINDS, ids=lambda v: "-".join(v))
def test_packed_sequence_in_and_out(rng, kind_nl):
    kind, nl = kind_nl
    ours, ref = layer_pair(rng, kind, nl, torch.float64, 3, 4, num_layers=2)
    x = torch.as_tensor(rng.standard_normal((6, 4, 3))).requires_grad_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, random_lengths(rng, 4, 6),
                                                     enforce_sorted=False)
    got, want = flat(ours(packed)), flat(ref(packed))
    assert isinstance(got[0], torch.nn.utils.rnn.PackedSequence)
    assert torch.equal(got[0].batch_sizes, want[0].batch_sizes)
    assert torch.equal(got[0].sorted_indices, want[0].sorted_indices)
    got[0], want[0] = got[0].data, want[0].data
    for g, w in zip(got, want):
        assert rel_err(g, w) <= 1e-10


@pytest.mark.parametrize("kind_nl", KINDS, ids=lambda v: "-".join(v))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("batched", [True, False])
def test_cell_gradients_match_torch(rng, kind_nl, dtype, batched):
    kind, nl = kind_nl
    ours, ref = layer_pair(rng, kind, nl, dtype, 4, 6, cell=True)
    lead = (3,) if batched else ()
    x = torch.as_tensor(rng.standard_normal(lead + (4,)), dtype=dtype).requires_grad_()
    states = [torch.as_tensor(rng.standard_normal(lead + (6,)), dtype=dtype).requires_grad_()
              for _ in range(2 if kind == "lstm" else 1)]
    hx = tuple(states) if kind == "lstm" else states[0]
    got, want = ours(x, hx), ref(x, hx)
    got = list(got) if kind == "lstm" else [got]
    want = list(want) if kind == "lstm" else [want]
    for g, w in zip(got, want):
        assert g.shape == w.shape and rel_err(g, w) <= TOL[dtype]
    weights = [torch.as_tensor(rng.standard_normal(w.shape), dtype=dtype) for w in want]
    for g, w in zip(grads_of(ours, [x] + states, got, weights),
                    grads_of(ref, [x] + states, want, weights)):
        assert rel_err(g, w) <= TOL[dtype]


def test_state_dict_both_ways_and_conversions(rng):
    seed = int(rng.integers(2**31))
    torch.manual_seed(seed)
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    ours = fnn.LSTM(3, 5, num_layers=2, bidirectional=True)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, p.shape) for n, p in ref.named_parameters()]
    ours.load_state_dict(ref.state_dict())
    back = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    back.load_state_dict(ours.state_dict())
    x = torch.as_tensor(rng.standard_normal((4, 2, 3)), dtype=torch.float32)
    assert rel_err(ours(x)[0], back(x)[0]) <= 1e-4
    ours = ours.double()
    assert ours.weight_ih_l0.dtype == torch.float64
    assert ours(x.double())[0].dtype == torch.float64
    ours = ours.to(torch.float32)
    assert rel_err(ours(x)[0], ref(x)[0]) <= 1e-4


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_dropout_between_layers_as_torch(rng, kind):
    """train(): the same dropout masks as torch (same generator, same order of draws); eval():
    none."""
    ours, ref = layer_pair(rng, kind, "tanh", torch.float64, 3, 4, num_layers=3, dropout=0.5)
    x = torch.as_tensor(rng.standard_normal((5, 2, 3)))
    seed = int(rng.integers(2**31))
    outs = []
    for m in (ours, ref):
        m.train()
        torch.manual_seed(seed)
        outs.append(m(x)[0])
    assert rel_err(outs[0], outs[1]) <= 1e-10
    ours.eval()
    ref.eval()
    assert rel_err(ours(x)[0], ref(x)[0]) <= 1e-10
    ours.train()
    assert not torch.equal(ours(x)[0], ours.eval()(x)[0])


def test_runs_under_torch_compile(rng):
    ours, ref = layer_pair(rng, "gru", "tanh", torch.float32, 3, 4, num_layers=2)
    head = torch.nn.Linear(4, 1)

    def model(m, x):
        return head(m(x)[0][-1]).sum()

    x = torch.as_tensor(rng.standard_normal((5, 2, 3)), dtype=torch.float32)
    compiled = torch.compile(model, backend="aot_eager")
    loss = compiled(ours, x)
    loss.backward()
    want = model(ref, x)
    want.backward()
    assert rel_err(loss, want) <= 1e-4
    assert rel_err(ours.weight_hh_l0.grad, ref.weight_hh_l0.grad) <= 1e-4
