"""torch's own sample inputs and error inputs for nn.LSTM/GRU/RNN and the three cells
(``torch.testing._internal.common_modules.module_db``), run through ``from_torch``: every sample
matches the torch module (PackedSequence and half precision included), every error input raises.
The harness is ``torch_module_inputs.py`` (run it as a script for the counts per module)."""

import pytest
import torch

pytest.importorskip("expecttest", reason="torch.testing._internal needs expecttest "
                                         "(in fastseq's test extra)")
import torch_module_inputs as tmi  # noqa: E402


@pytest.mark.parametrize("dtype", tmi.DTYPES, ids=str)
@pytest.mark.parametrize("name", list(tmi.MODULES))
def test_torch_module_inputs_match(rng, name, dtype):
    torch.manual_seed(int(rng.integers(2**31)))
    total, failed = tmi.failures("input", name, dtype)
    assert total > 0
    assert not failed, f"{len(failed)} of {total} samples fail:\n" + "\n".join(failed)


@pytest.mark.parametrize("dtype", tmi.DTYPES[:2], ids=str)
@pytest.mark.parametrize("name", list(tmi.MODULES))
def test_torch_module_error_inputs_raise(rng, name, dtype):
    torch.manual_seed(int(rng.integers(2**31)))
    total, failed = tmi.failures("error", name, dtype)
    assert total > 0
    assert not failed, f"{len(failed)} of {total} error inputs do not raise:\n" + "\n".join(failed)
