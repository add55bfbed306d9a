"""What torch users of the recurrent layers rely on beyond plain tensors: integer inputs refused,
PackedSequence in and out, float16 / bfloat16 modules, empty batches, parametrized weights."""

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pack_sequence

import fastseq

LAYERS = {"LSTM": fastseq.LSTM, "GRU": fastseq.GRU, "RNN": fastseq.RNN}
CELLS = {"LSTMCell": fastseq.LSTMCell, "GRUCell": fastseq.GRUCell, "RNNCell": fastseq.RNNCell}


def _close(a, b, atol, rtol=0.0):
    torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def _seed(rng):
    torch.manual_seed(int(rng.integers(2**31)))


# ---------------------------------------------------------------- integer, bool, complex input

@pytest.mark.parametrize("bad", [torch.int64, torch.int32, torch.bool, torch.complex64,
                                 np.int64, np.uint8, np.bool_, np.complex128])
@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNNCell"])
def test_non_float_input_refused_naming_the_argument(name, bad):
    cls = {**LAYERS, **CELLS}[name]
    f = cls(3, 4)
    shape = (2, 3) if name.endswith("Cell") else (5, 2, 3)
    x = torch.zeros(shape, dtype=bad) if isinstance(bad, torch.dtype) else np.zeros(shape, bad)
    arg = "input" if name.endswith("Cell") else "x"
    with pytest.raises(TypeError, match=rf"{arg}: expected floating-point values of dtype float32"
                                        r" \(the layer's dtype\), got (int|uint|bool|complex)"):
        f(x)
    with pytest.raises(TypeError, match=r"x: expected floating-point values"):
        fastseq.GRU(3, 4)([[[1, 2, 3]]])  # a nested list of ints is int64 too


def test_integer_state_refused_naming_it():
    f = fastseq.LSTM(3, 4)
    x = np.zeros((5, 2, 3), np.float32)
    h = np.zeros((1, 2, 4), np.float32)
    with pytest.raises(TypeError, match=r"hx\[1\]: expected floating-point values.*got int64"):
        f(x, (h, np.zeros((1, 2, 4), np.int64)))
    with pytest.raises(TypeError, match=r"^hx: expected floating-point values.*got int32"):
        fastseq.GRUCell(3, 4)(x[0], np.zeros((2, 4), np.int32))


def test_half_input_to_float32_layer_suggests_what_works():
    f = fastseq.LSTM(3, 4)
    x = torch.zeros(5, 2, 3, dtype=torch.float16)
    with pytest.raises(TypeError, match=r"x: expected dtype float32 \(the layer's dtype\), got "
                                        r"float16; convert the input .* or build the layer with "
                                        r"dtype=float16"):
        f(x)
    g = fastseq.LSTM(3, 4, dtype="float16")   # ... and that suggestion works
    g.load_state_dict(f.state_dict())
    assert g(x)[0].dtype == torch.float16
    with pytest.raises(TypeError, match=r"x: expected dtype float16.*got bfloat16.*dtype=bfloat16"):
        g(x.bfloat16())
    with pytest.raises(TypeError, match=r"x: expected dtype float16.*got float32"):
        g(x.float())


# ---------------------------------------------------------------- PackedSequence

@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sequence_in_packed_sequence_out(rng, name, enforce_sorted, batch_first):
    _seed(rng)
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    if name == "LSTM":
        kwargs["proj_size"] = 2
    m = getattr(torch.nn, name)(3, 4, **kwargs).eval()
    f = LAYERS[name].from_torch(m)
    T, B = 6, 4
    lengths = torch.as_tensor(rng.integers(1, T + 1, B))
    lengths[0] = T
    if enforce_sorted:
        lengths = lengths.sort(descending=True).values
    x = torch.randn((B, T, 3) if batch_first else (T, B, 3))
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first,
                                  enforce_sorted=enforce_sorted)
    n_states = 4
    h_out = 2 if name == "LSTM" else 4
    h0 = torch.randn(n_states, B, h_out)   # in the caller's batch order, as torch takes it
    hx = (h0, torch.randn(n_states, B, 4)) if name == "LSTM" else h0
    with torch.no_grad():
        want_out, want_h = m(packed, hx)
    got_out, got_h = f(packed, hx)
    assert type(got_out) is type(packed)
    assert torch.equal(got_out.batch_sizes, packed.batch_sizes)
    for field in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(got_out, field), getattr(want_out, field)
        assert (a is None and b is None) or torch.equal(a, b)
    _close(got_out.data, want_out.data, 1e-5)
    for a, b in zip(got_h if name == "LSTM" else (got_h,), want_h if name == "LSTM" else (want_h,)):
        _close(a, b, 1e-5)
    # the padded view of the output is the lengths path's
    padded, _ = pad_packed_sequence(got_out, batch_first=batch_first, total_length=T)
    direct, _ = f(x, hx, lengths=lengths)
    _close(padded, direct, 0.0)


def test_packed_sequence_of_one_sequence_and_refused_lengths(rng):
    _seed(rng)
    m = torch.nn.GRU(3, 4).eval()
    f = fastseq.GRU.from_torch(m)
    packed = pack_sequence([torch.randn(5, 3)])
    with torch.no_grad():
        want = m(packed)
    got = f(packed)
    _close(got[0].data, want[0].data, 1e-5)
    _close(got[1], want[1], 1e-5)
    with pytest.raises(ValueError, match="lengths: expected None with a PackedSequence"):
        f(packed, lengths=[5])
    with pytest.raises(TypeError, match=r"x: expected dtype float32.*got float64"):
        f(pack_sequence([torch.randn(5, 3, dtype=torch.float64)]))


# ---------------------------------------------------------------- float16 / bfloat16

HALF_UNIT_ROUNDOFF = {torch.float16: 2.0 ** -11, torch.bfloat16: 2.0 ** -8}


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", list(LAYERS))
def test_half_module_computes_in_float32_and_rounds_once(rng, name, half):
    """The documented tolerance: against a float64 run of the same (half-exact) weights and
    inputs, each result is off by at most one rounding to the half dtype plus the float32 error
    (1e-5); torch's own half module rounds after every step and is further off."""
    _seed(rng)
    m = getattr(torch.nn, name)(3, 8, num_layers=2, bidirectional=True).to(half).eval()
    f = LAYERS[name].from_torch(m)
    assert f.io_dtype == str(half).replace("torch.", "") and f.dtype == np.float32
    m64 = getattr(torch.nn, name)(3, 8, num_layers=2, bidirectional=True).double().eval()
    m64.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    x = torch.randn(7, 3, 3).to(half)
    h0 = torch.randn(4, 3, 8).to(half)
    hx = (h0, torch.randn(4, 3, 8).to(half)) if name == "LSTM" else h0
    hx64 = tuple(h.double() for h in hx) if name == "LSTM" else hx.double()
    with torch.no_grad():
        want = m64(x.double(), hx64)
        theirs = m(x, hx)
    got = f(x, hx)
    u = HALF_UNIT_ROUNDOFF[half]
    flat = lambda r: [r[0], *r[1]] if name == "LSTM" else list(r)  # noqa: E731
    for a, b, t in zip(flat(got), flat(want), flat(theirs)):
        assert a.dtype == half and a.shape == b.shape
        err = (a.double() - b).abs()
        assert (err <= u * b.abs() + 1e-5).all(), float((err - u * b.abs()).max())
        _close(a, t, atol=8 * u, rtol=4 * u)   # torch's half module, within a few roundings


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16], ids=str)
def test_half_cells_and_numpy_float16(rng, half):
    _seed(rng)
    for name, cls in CELLS.items():
        m = getattr(torch.nn, name)(3, 5).to(half)
        c = cls.from_torch(m)
        x = torch.randn(4, 3).to(half)
        with torch.no_grad():
            want = m(x)
        got = c(x)
        for a, b in zip(got if name == "LSTMCell" else (got,), want if name == "LSTMCell" else (want,)):
            assert a.dtype == half
            _close(a, b, atol=8 * HALF_UNIT_ROUNDOFF[half], rtol=4 * HALF_UNIT_ROUNDOFF[half])
    g = fastseq.GRU(3, 4, dtype=np.float16, random_state=int(rng.integers(100)))
    x16 = rng.standard_normal((5, 2, 3)).astype(np.float16)
    out, h = g(x16)
    assert out.dtype == np.float16 and isinstance(out, np.ndarray) and h.dtype == np.float16
    g32 = fastseq.GRU(3, 4).load_state_dict(g.state_dict())
    np.testing.assert_array_equal(out, g32(x16.astype(np.float32))[0].astype(np.float16))
    assert "dtype=float16" in repr(g)


# ---------------------------------------------------------------- empty batch

@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_batch_gives_empty_outputs(name, batch_first):
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    if name == "LSTM":
        kwargs["proj_size"] = 2
    m = getattr(torch.nn, name)(3, 4, **kwargs).eval()
    f = LAYERS[name].from_torch(m)
    x = torch.zeros((0, 5, 3) if batch_first else (5, 0, 3))
    with torch.no_grad():
        want = m(x)
    got = f(x)
    assert got[0].shape == want[0].shape
    if name == "LSTM":
        assert got[1][0].shape == want[1][0].shape and got[1][1].shape == want[1][1].shape
    else:
        assert got[1].shape == want[1].shape
    out, _ = f(np.zeros((5, 0, 3) if not batch_first else (0, 5, 3), np.float32),
               lengths=np.zeros(0, np.int64))
    assert out.shape == tuple(want[0].shape) and isinstance(out, np.ndarray)


def test_empty_batch_cells_and_no_steps_refused():
    for name, cls in CELLS.items():
        m = getattr(torch.nn, name)(3, 4)
        got = cls.from_torch(m)(torch.zeros(0, 3))
        for a in got if name == "LSTMCell" else (got,):
            assert a.shape == (0, 4)
    with pytest.raises(ValueError, match=r"x: expected a non-empty array.*got shape \(0, 2, 3\)"):
        fastseq.LSTM(3, 4)(np.zeros((0, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"x: expected a non-empty array.*got shape \(0, 3\)"):
        fastseq.RNN(3, 4)(np.zeros((0, 3), np.float32))


# ---------------------------------------------------------------- parametrized weights

@pytest.mark.parametrize("name", ["LSTM", "GRU", "LSTMCell"])
def test_from_torch_reads_weight_norm_parametrizations(rng, name):
    from torch.nn.utils.parametrizations import weight_norm
    _seed(rng)
    cell = name.endswith("Cell")
    m = getattr(torch.nn, name)(3, 4).eval()
    suffix = "" if cell else "_l0"
    weight_norm(m, name="weight_hh" + suffix)
    weight_norm(m, name="weight_ih" + suffix, dim=1)
    with torch.no_grad():   # move g away from ||v|| so the effective weight differs from v
        getattr(m.parametrizations, "weight_hh" + suffix).original0.mul_(1.7)
    f = {**LAYERS, **CELLS}[name].from_torch(m)
    np.testing.assert_allclose(f.state_dict()["weight_hh" + suffix],
                               getattr(m, "weight_hh" + suffix).detach().numpy(), rtol=1e-6)
    x = torch.randn((2, 3) if cell else (5, 2, 3))
    with torch.no_grad():
        want = m(x)
    got = f(x)
    flat = lambda r: [r[0], *r[1]] if name == "LSTM" else list(r)  # noqa: E731
    for a, b in zip(flat(got), flat(want)):
        _close(a, b, 1e-5)


def test_from_torch_reads_old_style_weight_norm():
    m = torch.nn.GRU(3, 4).eval()
    with pytest.warns(FutureWarning):
        torch.nn.utils.weight_norm(m, name="weight_hh_l0")
    with torch.no_grad():
        m.weight_hh_l0_g.mul_(0.5)
        x = torch.randn(5, 2, 3)
        want = m(x)   # the hook recomputes weight_hh_l0 from g and v before the call
    f = fastseq.GRU.from_torch(m)
    _close(f(x)[0], want[0], 1e-5)


def test_cell_from_torch_with_truthy_non_bool_bias():
    m = torch.nn.RNNCell(3, 4, "relu")   # torch takes it as bias="relu", a truthy value
    c = fastseq.RNNCell.from_torch(m)
    assert c.bias is True
    x = torch.randn(2, 3)
    with torch.no_grad():
        _close(c(x), m(x), 1e-6)
