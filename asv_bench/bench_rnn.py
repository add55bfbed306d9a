"""Recurrent layers and cells: fastseq beside torch (inference, same weights, same thread count).

Shapes: batch_first input (B, T=100, I), hidden H — the target shapes B in {1, 32} at I=64,
H=128, and B=32 at I=256, H=512 where the matrix products dominate. torch runs under
``inference_mode`` with ``torch.set_num_threads`` equal to Numba's thread count; on the GPU, TF32 is
off on both sides. ``track_`` benchmarks record the max absolute error against torch.
"""

import numpy as np

from ._common import DEVICES, require, sync, to_device

T = 100
SHAPES = ["1x64x128", "32x64x128", "32x256x512"]  # B x I x H
KINDS = ["LSTM", "GRU", "RNN"]


def _shape(s):
    return tuple(int(v) for v in s.split("x"))


def _torch(device):
    import numba
    import torch
    torch.set_num_threads(numba.get_num_threads())
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return torch


def _pair(kind, I, H, device, dtype="float32", cell=False, seed=0):
    """(torch module on the device, eval mode; the fastseq copy of its weights)."""
    torch = _torch(device)
    import fastseq
    torch.manual_seed(seed)
    name = kind + "Cell" if cell else kind
    kw = {} if cell else {"batch_first": True}
    m = getattr(torch.nn, name)(I, H, **kw).to(getattr(torch, dtype))
    m = m.to("cuda" if device == "cuda" else "cpu").eval()
    return m, getattr(fastseq, name).from_torch(m.cpu() if device != "cuda" else m, device=device)


class Layers:
    """One whole-sequence layer call (input projection included), T = 100, float32."""

    params = (KINDS, SHAPES, ["fastseq", "torch"], DEVICES)
    param_names = ["kind", "batch x input x hidden", "implementation", "device"]
    timeout = 300

    def setup(self, kind, shape, implementation, device):
        require(device)
        B, I, H = _shape(shape)
        m, f = _pair(kind, I, H, device)
        x = np.random.default_rng(0).standard_normal((B, T, I)).astype(np.float32)
        self.device = device
        if implementation == "fastseq":
            xd = to_device(x, device)
            self.run = lambda: f(xd)
        else:
            torch = _torch(device)
            xt = torch.from_numpy(x).to("cuda" if device == "cuda" else "cpu")

            def run():
                with torch.inference_mode():
                    return m(xt)
            self.run = run
        for _ in range(3):  # compile and warm up outside the timed body
            self.run()
        sync(device)

    def time_layer(self, kind, shape, implementation, device):
        self.run()
        sync(self.device)

    time_layer.pretty_name = "RNN layers: one call, T = 100, fastseq vs torch"


class Cells:
    """One cell step, I = 64, H = 128, float32."""

    params = (KINDS, [1, 32], ["fastseq", "torch"], DEVICES)
    param_names = ["kind", "batch", "implementation", "device"]

    def setup(self, kind, B, implementation, device):
        require(device)
        m, f = _pair(kind, 64, 128, device, cell=True)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((B, 64)).astype(np.float32)
        h = rng.standard_normal((B, 128)).astype(np.float32)
        self.device = device
        if implementation == "fastseq":
            xd, hd = to_device(x, device), to_device(h, device)
            hx = (hd, hd) if kind == "LSTM" else hd
            self.run = lambda: f(xd, hx)
        else:
            torch = _torch(device)
            dev = "cuda" if device == "cuda" else "cpu"
            xt, ht = torch.from_numpy(x).to(dev), torch.from_numpy(h).to(dev)
            hx = (ht, ht) if kind == "LSTM" else ht

            def run():
                with torch.inference_mode():
                    return m(xt, hx)
            self.run = run
        for _ in range(3):
            self.run()
        sync(device)

    def time_cell_step(self, kind, B, implementation, device):
        self.run()
        sync(self.device)

    time_cell_step.pretty_name = "RNN cells: one step, I = 64, H = 128, fastseq vs torch"


class Accuracy:
    """Max absolute error of fastseq's layer output against torch's (CPU), T = 100, B = 8,
    bidirectional, two layers; targets 2e-5 (float32) and 1e-11 (float64)."""

    params = (KINDS, ["float32", "float64"])
    param_names = ["kind", "dtype"]
    unit = "max abs error"

    def setup(self, kind, dtype):
        torch = _torch("cpu")
        import fastseq
        torch.manual_seed(1)
        m = getattr(torch.nn, kind)(64, 128, num_layers=2, bidirectional=True, batch_first=True)
        self.m = m.to(getattr(torch, dtype)).eval()
        self.f = getattr(fastseq, kind).from_torch(self.m, device="cpu")
        self.x = np.random.default_rng(1).standard_normal((8, T, 64)).astype(dtype)
        self.lengths = np.random.default_rng(2).integers(1, T + 1, size=8)
        self.torch = torch

    def track_max_error(self, kind, dtype):
        with self.torch.inference_mode():
            want = self.m(self.torch.from_numpy(self.x))[0].numpy()
        return float(np.abs(self.f(self.x)[0].astype(np.float64) - want).max())

    def track_max_error_variable_lengths(self, kind, dtype):
        torch = self.torch
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        with torch.inference_mode():
            packed = pack_padded_sequence(torch.from_numpy(self.x), torch.from_numpy(self.lengths),
                                          batch_first=True, enforce_sorted=False)
            want = pad_packed_sequence(self.m(packed)[0], batch_first=True, total_length=T)[0]
        got = self.f(self.x, lengths=self.lengths)[0]
        return float(np.abs(got.astype(np.float64) - want.numpy()).max())

    track_max_error.pretty_name = "RNN layers quality: max abs error vs torch, T = 100, B = 8"
    track_max_error_variable_lengths.pretty_name = (
        "RNN layers quality: max abs error vs torch, variable lengths")
