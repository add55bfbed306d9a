"""Training with fastseq.nn: a 50-step SGD run and truncated BPTT give torch's numbers; bad input
gets clear errors; fastseq.nn without torch says how to install it."""

import os
import pathlib
import subprocess
import sys

import pytest
import torch

import fastseq.nn as fnn
from nn_reference import layer_pair, rel_err

ROOT = str(pathlib.Path(__file__).resolve().parents[2])


def _model(layer, hidden, out):
    return torch.nn.ModuleDict({"rnn": layer, "head": torch.nn.Linear(hidden * 2, out)}).double()


def _loss(model, x, y, hx=None):
    out, state = model["rnn"](x, hx)
    return torch.nn.functional.mse_loss(model["head"](out), y), state


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_sgd_loss_curve_equals_torch(rng, kind):
    """50 SGD steps of a small bidirectional 2-layer model in float64: the losses agree with
    torch's to 1e-9 at every step."""
    ours, ref = layer_pair(rng, kind, "tanh", torch.float64, 3, 6, num_layers=2,
                           bidirectional=True)
    head = torch.nn.Linear(12, 2).double()
    models = [_model(ours, 6, 2), _model(ref, 6, 2)]
    models[0]["head"].load_state_dict(head.state_dict())
    models[1]["head"].load_state_dict(head.state_dict())
    x = torch.as_tensor(rng.standard_normal((10, 4, 3)))
    y = torch.as_tensor(rng.standard_normal((10, 4, 2)))
    curves = []
    for model in models:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        curve = []
        for _ in range(50):
            opt.zero_grad()
            loss, _ = _loss(model, x, y)
            loss.backward()
            opt.step()
            curve.append(loss.item())
        curves.append(curve)
    assert curves[0][-1] < curves[0][0]  # it learns
    assert max(abs(a - b) for a, b in zip(*curves)) <= 1e-9


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_truncated_bptt_equals_torch(rng, kind):
    """A long sequence trained in chunks of 5 steps, the state carried and detached between
    chunks: the same losses and weights as torch's."""
    ours, ref = layer_pair(rng, kind, "tanh", torch.float64, 2, 4)
    x = torch.as_tensor(rng.standard_normal((30, 3, 2)))
    y = torch.as_tensor(rng.standard_normal((30, 3, 4)))
    results = []
    for m in (ours, ref):
        opt = torch.optim.SGD(m.parameters(), lr=0.05)
        state, losses = None, []
        for start in range(0, 30, 5):
            opt.zero_grad()
            out, state = m(x[start:start + 5], state)
            loss = torch.nn.functional.mse_loss(out, y[start:start + 5])
            loss.backward()
            opt.step()
            state = tuple(s.detach() for s in state) if kind == "lstm" else state.detach()
            losses.append(loss.item())
        results.append((losses, m.weight_hh_l0.detach().clone()))
    assert max(abs(a - b) for a, b in zip(results[0][0], results[1][0])) <= 1e-10
    assert rel_err(results[0][1], results[1][1]) <= 1e-10


def test_bad_input_names_the_argument(rng):
    m = fnn.LSTM(3, 4, num_layers=2)
    x = torch.zeros(5, 2, 3)
    cases = [
        (lambda: m(x.double()), TypeError, "input: expected dtype torch.float32"),
        (lambda: m(torch.zeros(5, 2, 4)), ValueError, "input: expected 3 features"),
        (lambda: m(torch.zeros(5, 2, 1, 3)), ValueError, "input: expected 2 or 3 dimensions"),
        (lambda: m(x, torch.zeros(2, 2, 4)), TypeError, "hx: expected a tuple (h0, c0)"),
        (lambda: m(x, (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4))), ValueError,
         "hx[0]: expected shape (2, 2, 4)"),
        (lambda: m(x, lengths=[5, 6]), ValueError, "lengths: expected values in 1..5"),
        (lambda: m(x, lengths=[5, 0]), ValueError, "lengths: expected values in 1..5"),
        (lambda: m(x, lengths=[5]), ValueError, "lengths: expected shape (2,)"),
        (lambda: m(x, lengths=[5.0, 1.0]), TypeError, "lengths: expected integers"),
        (lambda: fnn.GRUCell(3, 4)(torch.zeros(2, 5)), ValueError, "input: expected 3 features"),
        (lambda: fnn.GRUCell(3, 4)(torch.zeros(2, 3), torch.zeros(3, 4)), ValueError, "hx:"),
    ]
    for call, error, text in cases:
        with pytest.raises(error) as info:
            call()
        assert text in str(info.value), str(info.value)


def test_inputs_are_not_modified(rng):
    m = fnn.GRU(3, 4, batch_first=True)
    x = torch.as_tensor(rng.standard_normal((2, 5, 3)), dtype=torch.float32)
    h0 = torch.as_tensor(rng.standard_normal((1, 2, 4)), dtype=torch.float32)
    x0, hh = x.clone(), h0.clone()
    out, _ = m(x, h0, lengths=torch.tensor([5, 2]))
    out.sum().backward()
    assert torch.equal(x, x0) and torch.equal(h0, hh)


def test_non_contiguous_input(rng):
    ours, ref = layer_pair(rng, "lstm", "tanh", torch.float64, 3, 4)
    x = torch.as_tensor(rng.standard_normal((3, 6, 5)))[:, ::2, :3].transpose(0, 1)
    assert not x.is_contiguous()
    assert rel_err(ours(x)[0], ref(x)[0]) <= 1e-10


def test_without_torch_the_error_says_how_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import fastseq\n"
            "try:\n    import fastseq.nn\nexcept ImportError as e:\n    print(e)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))  # this checkout's fastseq
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env, cwd=ROOT)
    assert "pip install fastseq[torch]" in done.stdout, done.stderr
