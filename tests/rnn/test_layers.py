"""LSTM / GRU / RNN layers against torch: every combination of kind, depth, direction, layout,
bias, initial state and dtype; variable lengths against packed sequences; projections; long
saturated sequences; torch tensors in and out."""

import numpy as np
import pytest
import torch

import fastseq
from rnn_reference import TOL, max_err, random_lengths, seed_torch, torch_layer, torch_run

KINDS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
FASTSEQ = {"lstm": fastseq.LSTM, "gru": fastseq.GRU, "rnn": fastseq.RNN}


def make_pair(rng, kind, nonlinearity, dtype, I, H, **kw):
    seed_torch(rng)
    m = torch_layer(kind, I, H, dtype, nonlinearity, **kw)
    return m, FASTSEQ[kind].from_torch(m, device="cpu")


def initial_state(rng, kind, n_states, B, H, dtype, proj_size=0, batched=True):
    lead = (n_states, B) if batched else (n_states,)
    h0 = rng.standard_normal(lead + (proj_size or H,)).astype(dtype)
    if kind == "lstm":
        return h0, rng.standard_normal(lead + (H,)).astype(dtype)
    return h0


def to_torch_state(hx):
    if hx is None:
        return None
    if isinstance(hx, tuple):
        return tuple(torch.from_numpy(h) for h in hx)
    return torch.from_numpy(hx)


def compare(kind, got, want, tol):
    out, state = got
    t_out, t_state = want
    assert max_err(out, t_out) <= tol
    if kind == "lstm":
        assert max_err(state[0], t_state[0]) <= tol
        assert max_err(state[1], t_state[1]) <= tol
    else:
        assert max_err(state, t_state) <= tol


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind,nonlinearity", KINDS)
def test_layer_matches_torch(rng, kind, nonlinearity, num_layers, bidirectional, batch_first, bias,
                             with_state, dtype):
    I, H, T = 5, 6, 9
    # B = 9 gives two worker slices (rows in fours, one tail row); B = 2 tail rows only
    B = 9 if (num_layers + bidirectional + batch_first) % 2 else 2
    m, f = make_pair(rng, kind, nonlinearity, dtype, I, H, num_layers=num_layers, bias=bias,
                     batch_first=batch_first, bidirectional=bidirectional)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    hx = initial_state(rng, kind, num_layers * (1 + bidirectional), B, H, dtype) if with_state \
        else None
    got = f(x, hx)
    assert isinstance(got[0], np.ndarray) and got[0].dtype == dtype
    want = torch_run(m, torch.from_numpy(x), to_torch_state(hx))
    assert got[0].shape == tuple(want[0].shape)
    compare(kind, got, want, TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind,nonlinearity", KINDS)
def test_variable_lengths_match_packed_sequences(rng, kind, nonlinearity, num_layers, bidirectional,
                                                  dtype):
    I, H, T, B = 4, 7, 12, 10
    batch_first = bool(rng.integers(0, 2))
    m, f = make_pair(rng, kind, nonlinearity, dtype, I, H, num_layers=num_layers,
                     bidirectional=bidirectional, batch_first=batch_first)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    lengths = random_lengths(rng, B, T)
    hx = initial_state(rng, kind, num_layers * (1 + bidirectional), B, H, dtype) \
        if rng.random() < 0.5 else None
    got = f(x, hx, lengths=lengths)
    want = torch_run(m, torch.from_numpy(x), to_torch_state(hx), lengths, batch_first)
    compare(kind, got, want, TOL[dtype])
    out = got[0] if batch_first else got[0].transpose(1, 0, 2)
    for b in range(B):  # zeros past each sequence's end
        assert np.all(out[b, lengths[b]:] == 0)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_lengths_accept_lists_and_tensors_and_ignore_padding(rng, kind):
    I, H, T, B = 3, 5, 8, 4
    m, f = make_pair(rng, kind, "tanh", np.float32, I, H, bidirectional=True)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    lengths = [8, 3, 5, 1]
    ref = f(x, lengths=np.array(lengths))
    x_pad = x.copy()
    for b, L in enumerate(lengths):
        x_pad[L:, b] = np.nan  # padding is never read
    for lens in (lengths, torch.tensor(lengths), np.array(lengths, dtype=np.int32)):
        got = f(x_pad, lengths=lens)
        assert np.array_equal(got[0], ref[0])
    want = torch_run(m, torch.from_numpy(x), None, lengths)
    compare(kind, ref, want, 2e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_lstm_projection_matches_torch(rng, num_layers, bidirectional, dtype):
    I, H, P, T, B = 5, 8, 3, 10, 9
    m, f = make_pair(rng, "lstm", "tanh", dtype, I, H, num_layers=num_layers,
                     bidirectional=bidirectional, proj_size=P, batch_first=True)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    n = num_layers * (1 + bidirectional)
    hx = initial_state(rng, "lstm", n, B, H, dtype, proj_size=P)
    got = f(x, hx)
    assert got[0].shape == (B, T, (1 + bidirectional) * P)
    assert got[1][0].shape == (n, B, P) and got[1][1].shape == (n, B, H)
    compare("lstm", got, torch_run(m, torch.from_numpy(x), to_torch_state(hx)), TOL[dtype])
    lengths = random_lengths(rng, B, T)
    got = f(x, lengths=lengths)
    compare("lstm", got, torch_run(m, torch.from_numpy(x), None, lengths, True), TOL[dtype])


@pytest.mark.parametrize("kind,nonlinearity", KINDS)
@pytest.mark.parametrize("B", [1, 16])
def test_long_saturated_sequences_float32(rng, kind, nonlinearity, B):
    """T = 250 with weights and inputs large enough that most gates saturate: the float32 tanh
    approximation's error must not accumulate past 2e-5."""
    I, H, T = 16, 32, 250
    seed_torch(rng)
    m = torch_layer(kind, I, H, np.float32, nonlinearity)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(4.0 if nonlinearity == "tanh" else 1.0)
    f = FASTSEQ[kind].from_torch(m, device="cpu")
    x = (3 * rng.standard_normal((T, B, I))).astype(np.float32)
    got = f(x)
    want = torch_run(m, torch.from_numpy(x))
    compare(kind, got, want, 2e-5)
    if kind == "lstm":  # the gates really saturate
        pre = x @ m.weight_ih_l0.detach().numpy().T
        assert np.mean(np.abs(pre) > 4) > 0.2


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_torch_tensors_in_and_out(rng, kind):
    I, H, T, B = 4, 6, 5, 3
    m, f = make_pair(rng, kind, "tanh", np.float64, I, H, num_layers=2, batch_first=True)
    x = torch.from_numpy(rng.standard_normal((B, T, I)))
    hx = initial_state(rng, kind, 2, B, H, np.float64)
    got = f(x, to_torch_state(hx), lengths=torch.tensor([5, 2, 4]))
    out, state = got
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == (B, T, H)
    states = state if kind == "lstm" else (state,)
    assert all(isinstance(s, torch.Tensor) and s.shape[:2] == (2, B) for s in states)
    want = torch_run(m, x, to_torch_state(hx), [5, 2, 4], batch_first=True)
    compare(kind, got, want, 1e-11)
    # a requires_grad tensor is read through detach
    xg = x.clone().requires_grad_(True)
    assert max_err(f(xg)[0], f(x)[0]) == 0


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_unbatched_input(rng, kind):
    I, H, T = 4, 5, 6
    m, f = make_pair(rng, kind, "tanh", np.float32, I, H, bidirectional=True, num_layers=2)
    x = rng.standard_normal((T, I)).astype(np.float32)
    hx = initial_state(rng, kind, 4, 1, H, np.float32, batched=False)
    got = f(x, hx)
    want = torch_run(m, torch.from_numpy(x), to_torch_state(hx))
    assert got[0].shape == (T, 2 * H)
    compare(kind, got, want, 2e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_nan_propagates_only_into_its_sequence(rng, kind):
    """NaN policy: propagate like torch, only into the batch rows that hold it."""
    I, H, T, B = 3, 4, 7, 9
    m, f = make_pair(rng, kind, "tanh", np.float32, I, H, bidirectional=True)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    x[3, 2, 1] = np.nan
    out, state = f(x)
    t_out, t_state = torch_run(m, torch.from_numpy(x))
    assert np.array_equal(np.isnan(out), np.isnan(t_out.numpy()))
    assert np.isnan(out[:, 2]).any() and not np.isnan(np.delete(out, 2, axis=1)).any()
    ok = ~np.isnan(out)
    assert np.abs(out[ok] - t_out.numpy()[ok]).max() <= 2e-5
    h = state[0] if kind == "lstm" else state
    assert np.isnan(h[:, 2]).all() and not np.isnan(np.delete(h, 2, axis=1)).any()


def test_inputs_are_not_modified(rng):
    f = fastseq.LSTM(3, 4, bidirectional=True)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    h0, c0 = (rng.standard_normal((2, 2, 4)).astype(np.float32) for _ in range(2))
    copies = [a.copy() for a in (x, h0, c0)]
    f(x, (h0, c0))
    assert all(np.array_equal(a, b) for a, b in zip((x, h0, c0), copies))


def test_constructor_matches_torch_defaults(rng):
    """Fresh layers: torch's weight shapes and names, values within U(-1/sqrt(H), 1/sqrt(H)),
    reproducible with random_state."""
    for kind, cls in FASTSEQ.items():
        seed = int(rng.integers(2**31))
        f = cls(6, 16, num_layers=2, bidirectional=True, random_state=seed)
        t = torch_layer(kind, 6, 16, np.float32, num_layers=2, bidirectional=True)
        sd = f.state_dict()
        assert list(sd) == list(t.state_dict())
        for k, v in sd.items():
            assert v.shape == tuple(t.state_dict()[k].shape) and v.dtype == np.float32
        pooled = np.abs(np.concatenate([v.ravel() for v in sd.values()]))
        # thousands of U(-0.25, 0.25) draws: all within the bound, and filling it
        assert pooled.max() <= 0.25 and pooled.max() > 0.24 and 0.1 < pooled.mean() < 0.15
        g = cls(6, 16, num_layers=2, bidirectional=True, random_state=seed)
        assert all(np.array_equal(sd[k], v) for k, v in g.state_dict().items())
    assert fastseq.GRU(3, 4, dtype=np.float64).weight_hh_l0.dtype == np.float64
    assert fastseq.GRU(3, 4, dtype=torch.float64).weight_hh_l0.dtype == np.float64


def test_blas_threads_are_restored_after_a_call(rng):
    """The layers hold BLAS to one thread during a call (one threading system owns the cores)
    and give the caller's setting back afterwards, also after nested and failing calls."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from fastseq._threads import single_threaded_blas

    def blas_threads():
        return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    f = fastseq.LSTM(4, 8)
    x = rng.standard_normal((5, 12, 4)).astype(np.float32)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        f(x)
        with single_threaded_blas():
            assert set(blas_threads()) == {1}
            with single_threaded_blas():
                f(x)
            assert set(blas_threads()) == {1}
        with pytest.raises(ValueError):
            f(x, lengths=[0] * 12)
        assert blas_threads() == before
