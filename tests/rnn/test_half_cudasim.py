"""The CUDA branch of a half-precision layer in the CUDA simulator: the layer casts float16 /
bfloat16 to float32 around the float32 kernels and rounds the results once, as on the CPU.

There is no CuPy without a GPU, so NumPy stands in for it (``sys.modules["cupy"]``) and the GPU
probe is told a device exists; the kernels are the real ones, run by the simulator.
"""

import sys

import numpy as np
import pytest
import torch

import fastseq
from fastseq import _backend


@pytest.fixture
def simulated_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", np)
    monkeypatch.setattr(_backend, "gpu_status",
                        lambda: _backend.GPUStatus(True, "ok (CUDA simulator, NumPy as CuPy)"))
    from fastseq.rnn import _recurrence_cuda
    seen = []
    real = _recurrence_cuda.recurrence_cuda

    def spy(kind, xproj, *args, **kwargs):
        seen.append(xproj.dtype)
        return real(kind, xproj, *args, **kwargs)

    monkeypatch.setattr(_recurrence_cuda, "recurrence_cuda", spy)
    return seen


@pytest.mark.cudasim
@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_half_layer_cuda_path_in_simulator(simulated_gpu, rng, name, half):
    torch.manual_seed(int(rng.integers(2**31)))
    m = getattr(torch.nn, name)(3, 4, bidirectional=True).to(half).eval()
    on_cpu = getattr(fastseq, name).from_torch(m, device="cpu")
    on_gpu = getattr(fastseq, name).from_torch(m, device="cuda")
    x = torch.randn(4, 2, 3).to(half)
    want = on_cpu(x)
    got = on_gpu(x)
    assert simulated_gpu and all(d == np.float32 for d in simulated_gpu)  # the kernels ran in float32
    u = 2.0 ** -11 if half == torch.float16 else 2.0 ** -8
    flat = lambda r: [r[0], *r[1]] if name == "LSTM" else list(r)  # noqa: E731
    for a, b in zip(flat(got), flat(want)):
        assert a.dtype == half and a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-5, rtol=u)   # at most one half rounding apart


@pytest.mark.cudasim
def test_half_cell_cuda_path_in_simulator(simulated_gpu, rng):
    c = fastseq.GRUCell(3, 5, dtype="float16", device="cuda", random_state=int(rng.integers(99)))
    x = rng.standard_normal((2, 3)).astype(np.float16)
    h = c(x)
    assert h.dtype == np.float16 and simulated_gpu == [np.float32]
    ref = fastseq.GRUCell(3, 5, device="cpu").load_state_dict(c.state_dict())(x.astype(np.float32))
    np.testing.assert_allclose(h, ref, rtol=2.0 ** -11, atol=1e-5)
