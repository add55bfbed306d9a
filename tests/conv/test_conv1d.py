"""Conv1d against torch's nn.Conv1d: every combination of stride, padding (int, 'valid', 'same'),
dilation 1-8, groups and bias, float32 / float64, batched and unbatched; torch tensors in and out;
state_dict round trips; bad input."""

import itertools

import numpy as np
import pytest
import torch

import fastseq
from conv_reference import TOL, TORCH_DTYPE, rel_err, seed_torch

STRIDES = [1, 2, 3]
PADDINGS = [0, 2, "valid", "same"]
DILATIONS = [1, 2, 5, 8]
GROUPS = [1, 2, 4]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [True, False])
def test_every_combination_matches_torch(rng, dtype, batched):
    seed_torch(rng)
    c_in, c_out, k = 4, 8, 3
    for stride, padding, dilation, groups, bias in itertools.product(
            STRIDES, PADDINGS, DILATIONS, GROUPS, [True, False]):
        if padding == "same" and stride > 1:
            continue   # torch refuses it too: test_same_padding_needs_stride_1
        tm = torch.nn.Conv1d(c_in, c_out, k, stride=stride, padding=padding, dilation=dilation,
                             groups=groups, bias=bias).to(TORCH_DTYPE[dtype])
        layer = fastseq.Conv1d.from_torch(tm, device="cpu")
        t = int(rng.integers(2 * dilation + 1, 40))
        x = rng.standard_normal((2, c_in, t) if batched else (c_in, t)).astype(dtype)
        with torch.no_grad():
            want = tm(torch.from_numpy(x)).numpy()
        got = layer(x)
        case = (stride, padding, dilation, groups, bias, t)
        assert got.dtype == dtype and got.shape == want.shape, case
        assert rel_err(got, want) <= TOL[dtype], case


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_layer_and_long_sequence_many_tiles(rng, dtype):
    """Long T splits into several time tiles; kernel 1 and a kernel as long as the input."""
    seed_torch(rng)
    for k, t, stride in [(3, 3000, 1), (1, 500, 2), (7, 7, 1), (5, 1200, 3)]:
        tm = torch.nn.Conv1d(48, 40, k, stride=stride, padding=1).to(TORCH_DTYPE[dtype])
        x = rng.standard_normal((3, 48, t)).astype(dtype)
        with torch.no_grad():
            want = tm(torch.from_numpy(x)).numpy()
        assert rel_err(fastseq.Conv1d.from_torch(tm)(x), want) <= TOL[dtype], (k, t)


def test_causal_is_left_padded_valid_convolution(rng):
    seed_torch(rng)
    tm = torch.nn.Conv1d(3, 5, 4, dilation=3, dtype=torch.float64)
    layer = fastseq.Conv1d(3, 5, 4, dilation=3, causal=True, dtype=np.float64)
    layer.load_state_dict(tm.state_dict())
    x = rng.standard_normal((2, 3, 25))
    with torch.no_grad():
        want = tm(torch.nn.functional.pad(torch.from_numpy(x), (9, 0))).numpy()
    got = layer(x)
    assert got.shape == (2, 5, 25) and rel_err(got, want) <= 1e-12


def test_torch_in_torch_out_and_non_contiguous_input(rng):
    seed_torch(rng)
    tm = torch.nn.Conv1d(6, 4, 3, padding="same")
    layer = fastseq.Conv1d.from_torch(tm)
    xt = torch.from_numpy(rng.standard_normal((2, 20, 6)).astype(np.float32)).transpose(1, 2)
    got = layer(xt)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    with torch.no_grad():
        assert rel_err(got.numpy(), tm(xt).numpy()) <= 1e-5
    xn = rng.standard_normal((2, 6, 40)).astype(np.float32)[:, :, ::2]
    with torch.no_grad():
        assert rel_err(layer(xn), tm(torch.from_numpy(xn.copy())).numpy()) <= 1e-5


def test_nan_propagates_to_its_own_batch_row(rng):
    layer = fastseq.Conv1d(2, 3, 3, random_state=0)
    x = rng.standard_normal((2, 2, 10)).astype(np.float32)
    x[1, 0, 4] = np.nan
    y = layer(x)
    assert np.isfinite(y[0]).all() and np.isnan(y[1]).any()


def test_state_dict_round_trip_and_torch_init_bounds():
    layer = fastseq.Conv1d(6, 4, 5, groups=2, random_state=1)
    assert layer.weight.shape == (4, 3, 5) and layer.bias.shape == (4,)
    bound = 1 / np.sqrt(3 * 5)
    assert np.abs(layer.weight).max() <= bound and np.abs(layer.weight).std() > bound / 4
    tm = torch.nn.Conv1d(6, 4, 5, groups=2)
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((1, 6, 12)).astype(np.float32)
    with torch.no_grad():
        assert rel_err(layer(x), tm(torch.from_numpy(x)).numpy()) <= 1e-5
    assert fastseq.Conv1d(2, 2, 3, bias=False).bias is None
    assert layer.num_parameters() == sum(p.numel() for p in tm.parameters())
    assert fastseq.Conv1d(3, 4, 3).output_length(10) == 8


@pytest.mark.parametrize("kwargs, match", [
    (dict(dilation=0), "dilation: expected an integer >= 1"),
    (dict(groups=3), "groups: expected a divisor"),
    (dict(kernel_size=0), "kernel_size"),
    (dict(stride=0), "stride"),
    (dict(padding=-1), "padding"),
    (dict(padding="full"), "padding: expected"),
    (dict(padding="same", stride=2), "'same' needs stride 1"),
    (dict(causal=True, padding=1), "causal layer pads"),
    (dict(causal=True, stride=2), "causal layer needs stride 1"),
    (dict(padding_mode="reflect"), "padding_mode"),
    (dict(device="tpu"), "device"),
    (dict(dtype=np.int32), "dtype"),
    (dict(dtype="float16"), "dtype: expected float32 or float64"),
])
def test_bad_hyperparameters(kwargs, match):
    args = dict(in_channels=4, out_channels=8, kernel_size=3)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        fastseq.Conv1d(**args)


def test_bad_input():
    layer = fastseq.Conv1d(4, 8, 5, dilation=2)
    with pytest.raises(ValueError, match="expected 4 channels"):
        layer(np.zeros((2, 3, 20), np.float32))
    with pytest.raises(ValueError, match="spans .* 9 samples, more than the padded input's 8"):
        layer(np.zeros((2, 4, 8), np.float32))
    with pytest.raises(TypeError, match="expected dtype float32"):
        layer(np.zeros((2, 4, 20), np.float64))
    with pytest.raises(TypeError, match="got float16.*built in float32 or float64 only"):
        layer(np.zeros((2, 4, 20), np.float16))
    with pytest.raises(TypeError, match="floating-point.*got int32"):
        layer(np.zeros((2, 4, 20), np.int32))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        layer(np.zeros((4,), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        layer(np.zeros((0, 4, 20), np.float32))
    with pytest.raises(ValueError, match="weight.*expected shape"):
        layer.load_state_dict({"weight": np.zeros((8, 4, 3)), "bias": np.zeros(8)})
    with pytest.raises(TypeError, match="torch.nn.Conv1d"):
        fastseq.Conv1d.from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="causal layer"):
        layer.init_state(1)
