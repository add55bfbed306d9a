"""torch.autograd.gradcheck (float64) of the fastseq.nn layers and cells: every kind x layers 1-2
x uni/bidirectional x bias x lengths given/absent x h0 given/absent, on tiny shapes. The
gradients come from the fused backward kernels; gradcheck compares them with finite
differences for the input, the initial states and every parameter."""

import itertools

import pytest
import torch
from torch.func import functional_call

from nn_reference import KINDS, random_lengths, layer_pair

T, B, I, H = 3, 2, 2, 2
COMBOS = list(itertools.product(KINDS, (1, 2), (False, True), (False, True), (False, True),
                                (False, True)))


@pytest.mark.parametrize("kind_nl, layers, bidirectional, bias, with_lengths, with_h0", COMBOS,
                         ids=lambda v: str(v))
def test_layer_gradcheck(rng, kind_nl, layers, bidirectional, bias, with_lengths, with_h0):
    kind, nl = kind_nl
    import numpy as np
    m, _ = layer_pair(rng, kind, nl, torch.float64, I, H, num_layers=layers,
                      bidirectional=bidirectional, bias=bias)
    names = [n for n, _ in m.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in m.parameters()]
    x = torch.as_tensor(rng.standard_normal((T, B, I))).requires_grad_()
    lengths = random_lengths(rng, B, T) if with_lengths else None
    n = layers * (2 if bidirectional else 1)
    states = ([torch.as_tensor(rng.standard_normal((n, B, H))).requires_grad_()
               for _ in range(2 if kind == "lstm" else 1)] if with_h0 else [])

    def f(x, *rest):
        st, ps = rest[:len(states)], rest[len(states):]
        hx = (tuple(st) if kind == "lstm" else st[0]) if st else None
        out, state = functional_call(m, dict(zip(names, ps)), (x, hx), {"lengths": lengths})
        return (out,) + (tuple(state) if kind == "lstm" else (state,))

    assert torch.autograd.gradcheck(f, (x, *states, *params), eps=1e-6, atol=1e-7, rtol=1e-5,
                                    fast_mode=True)
    if with_lengths:  # nothing flows past a sequence's end: the padding's input gradient is 0
        out, _ = m(x, lengths=lengths)
        (g,) = torch.autograd.grad(out.sum(), x)
        pad = torch.arange(T)[:, None] >= lengths[None, :]
        assert torch.all(g[pad] == 0)


@pytest.mark.parametrize("kind_nl", KINDS, ids=lambda v: "-".join(v))
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_cell_gradcheck(rng, kind_nl, bias, with_h0):
    kind, nl = kind_nl
    m, _ = layer_pair(rng, kind, nl, torch.float64, I, H, bias=bias, cell=True)
    names = [n for n, _ in m.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in m.parameters()]
    x = torch.as_tensor(rng.standard_normal((B, I))).requires_grad_()
    states = ([torch.as_tensor(rng.standard_normal((B, H))).requires_grad_()
               for _ in range(2 if kind == "lstm" else 1)] if with_h0 else [])

    def f(x, *rest):
        st, ps = rest[:len(states)], rest[len(states):]
        hx = (tuple(st) if kind == "lstm" else st[0]) if st else None
        return functional_call(m, dict(zip(names, ps)), (x, hx))

    assert torch.autograd.gradcheck(f, (x, *states, *params), eps=1e-6, atol=1e-7, rtol=1e-5,
                                    fast_mode=True)
