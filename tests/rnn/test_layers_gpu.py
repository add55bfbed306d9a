"""The layers and cells on a CUDA device (GPU lane: ``pytest -m gpu``) against torch on the CPU.

The CUDA recurrence kernel is tested on its own in test_recurrence_cuda.py; here the driver's
wiring is checked: CuPy input projection, weights cached on the device, outputs in the caller's
array type.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastseq  # noqa: E402
from rnn_reference import max_err, seed_torch, torch_layer, torch_run  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_on_cuda_matches_torch(rng, kind, bidirectional):
    cupy = pytest.importorskip("cupy")
    seed_torch(rng)
    m = torch_layer(kind, 5, 8, np.float64, num_layers=2, bidirectional=bidirectional,
                    batch_first=True)
    f = {"lstm": fastseq.LSTM, "gru": fastseq.GRU, "rnn": fastseq.RNN}[kind].from_torch(
        m, device="cuda")
    x = rng.standard_normal((6, 11, 5))
    lengths = np.array([11, 3, 7, 1, 11, 5])
    want = torch_run(m, torch.from_numpy(x), None, lengths, batch_first=True)
    out, state = f(x, lengths=lengths)  # NumPy in, NumPy out, computed on the GPU
    assert isinstance(out, np.ndarray)
    assert max_err(out, want[0]) <= 1e-10
    out_c, _ = f(cupy.asarray(x), lengths=lengths)  # CuPy in, CuPy out
    assert isinstance(out_c, cupy.ndarray) and max_err(out_c.get(), want[0]) <= 1e-10
    out_t, _ = f(torch.from_numpy(x).cuda(), lengths=torch.from_numpy(lengths))
    assert out_t.is_cuda and max_err(out_t.cpu(), want[0]) <= 1e-10


def test_cell_on_cuda_matches_torch(rng):
    pytest.importorskip("cupy")
    seed_torch(rng)
    m = torch.nn.GRUCell(4, 6).double()
    f = fastseq.GRUCell.from_torch(m, device="cuda")
    x = rng.standard_normal((3, 4))
    with torch.no_grad():
        assert max_err(f(x), m(torch.from_numpy(x))) <= 1e-10
