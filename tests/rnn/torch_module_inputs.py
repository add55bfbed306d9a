"""torch's own sample inputs and error inputs for its six recurrent modules, run through fastseq.

torch ships them in ``torch.testing._internal.common_modules.module_db`` (``module_inputs_func``
and ``module_error_inputs_func`` of nn.LSTM/GRU/RNN and the cells). For each sample the torch
module is built, converted with ``from_torch`` and both are run on the same inputs
(PackedSequence included); for each error input fastseq must raise. Used by
``test_torch_module_inputs.py``; ``python3 tests/rnn/torch_module_inputs.py`` prints the counts.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence

import fastseq

MODULES = {"LSTM": fastseq.LSTM, "GRU": fastseq.GRU, "RNN": fastseq.RNN,
           "LSTMCell": fastseq.LSTMCell, "GRUCell": fastseq.GRUCell, "RNNCell": fastseq.RNNCell}
# the dtypes torch runs them for, then the half-precision ones fastseq also takes
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# |fastseq - torch| <= ATOL + RTOL * |torch| per dtype (half: torch rounds after every step)
TOLERANCE = {torch.float32: (1e-5, 1e-5), torch.float64: (1e-12, 1e-12),
             torch.float16: (8e-3, 8e-3), torch.bfloat16: (6e-2, 6e-2)}  # twice the first bounds tried: torch rounds to half after every op, so both sides drift


def module_infos():
    """The ModuleInfo of each of the six modules, by torch class name."""
    from torch.testing._internal.common_modules import module_db
    return {info.module_cls.__name__: info for info in module_db
            if info.module_cls.__name__ in MODULES}


def _samples(info, dtype):
    return info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=False,
                                   training=False, with_packed_sequence=True)


def _error_samples(info, dtype):
    return info.module_error_inputs_func(info, device="cpu", dtype=dtype, requires_grad=False,
                                         training=False)


def _compare(ours, theirs, tol, where="output"):
    if isinstance(theirs, PackedSequence):
        assert isinstance(ours, PackedSequence), f"{where}: expected a PackedSequence, got {type(ours)}"
        for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            a, b = getattr(ours, field), getattr(theirs, field)
            assert (a is None) == (b is None) and (a is None or torch.equal(a, b)), \
                f"{where}.{field}: {a} != {b}"
        _compare(ours.data, theirs.data, tol, where + ".data")
    elif isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), \
            f"{where}: expected a {len(theirs)}-tuple, got {type(ours).__name__}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _compare(a, b, tol, f"{where}[{i}]")
    else:
        assert isinstance(ours, torch.Tensor), f"{where}: expected a tensor, got {type(ours)}"
        assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} != {theirs.dtype}"
        assert ours.shape == theirs.shape, f"{where}: shape {tuple(ours.shape)} != {tuple(theirs.shape)}"
        atol, rtol = tol
        a, b = ours.double().numpy(), theirs.double().numpy()
        err = np.abs(a - b) - rtol * np.abs(b)
        assert err.size == 0 or err.max() <= atol, f"{where}: off by {err.max():.3g} (+ rtol)"


def run_sample(name, sample, dtype):
    """Build torch's module, convert it, run both on the sample's inputs and compare."""
    ctor, fwd = sample.constructor_input, sample.forward_input
    module = getattr(torch.nn, name)(*ctor.args, **ctor.kwargs).to(dtype).eval()
    layer = MODULES[name].from_torch(module)
    with torch.no_grad():
        expected = module(*fwd.args, **fwd.kwargs)
    _compare(layer(*fwd.args, **fwd.kwargs), expected, TOLERANCE[dtype])


def run_error_sample(name, error_input, dtype):
    """fastseq must raise on the error input: at construction (fastseq's own constructor with
    torch's arguments) or at the forward call of the converted module."""
    from torch.testing._internal.common_modules import ModuleErrorEnum
    sample = error_input.module_error_input
    ctor = sample.constructor_input
    cls = MODULES[name]
    if error_input.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR:
        try:
            cls(*ctor.args, **_fastseq_kwargs(ctor.kwargs))
        except (TypeError, ValueError):
            return
        raise AssertionError(f"{name}{ctor.args}{ctor.kwargs}: no error, torch raises "
                             f"{error_input.error_type.__name__}: {error_input.error_regex}")
    module = getattr(torch.nn, name)(*ctor.args, **ctor.kwargs).eval()
    layer = cls.from_torch(module)
    fwd = sample.forward_input
    try:
        layer(*fwd.args, **fwd.kwargs)
    except (TypeError, ValueError):
        return
    raise AssertionError(f"{name} forward: no error, torch raises "
                         f"{error_input.error_type.__name__}: {error_input.error_regex}")


def _fastseq_kwargs(kwargs):
    out = dict(kwargs)
    if "device" in out:
        out["device"] = str(out["device"]).split(":")[0]
    return out


def failures(kind, name, dtype):
    """``(number of samples, [description of each failing one])`` for one module and dtype;
    ``kind`` "input" (torch's samples) or "error" (its error inputs, float32/float64 only).
    The samples draw from torch's global generator: seed it first."""
    info = module_infos()[name]
    make, run = (_samples, run_sample) if kind == "input" else (_error_samples, run_error_sample)
    samples, failed = list(make(info, dtype)), []
    for i, sample in enumerate(samples):
        try:
            run(name, sample, dtype)
        except Exception as exc:
            failed.append(f"{name} {dtype} {kind} #{i}: {type(exc).__name__}: {str(exc)[:200]}")
    return len(samples), failed


def main():
    torch.manual_seed(0)
    counts = {}
    for kind, dtypes in (("input", DTYPES), ("error", DTYPES[:2])):
        for name in MODULES:
            for dtype in dtypes:
                total, failed = failures(kind, name, dtype)
                counts[(kind, name, str(dtype).replace("torch.", ""))] = (
                    total - len(failed), total, failed[0] if failed else None)
    for kind in ("input", "error"):
        n_pass = sum(v[0] for k, v in counts.items() if k[0] == kind)
        n_all = sum(v[1] for k, v in counts.items() if k[0] == kind)
        print(f"{kind} samples: {n_pass} / {n_all} pass")
        for key, (p, t, first) in counts.items():
            if key[0] == kind:
                print(f"  {key[1]:9s} {key[2]:9s} {p:3d} / {t:3d}" + (f"   {first}" if first else ""))


if __name__ == "__main__":
    main()
