"""Test lanes (docs/architecture.md, "Testing lanes"): CPU (default), CUDA simulator, compile, GPU.

- ``cudasim`` tests run only when NUMBA_ENABLE_CUDASIM=1 was set before Numba was imported, in
  their own pytest process: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim``. Without it they skip.
- ``compile`` tests build CUDA sources for sm_90 with NVVM / nvcc; they skip when no CUDA compiler
  is installed.
- ``gpu`` tests need a usable CUDA device (CuPy reports one); they skip without it.
"""

import os

import numpy as np
import pytest

CUDASIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def pytest_collection_modifyitems(config, items):
    skip_sim = pytest.mark.skip(reason="needs NUMBA_ENABLE_CUDASIM=1 (run: NUMBA_ENABLE_CUDASIM=1 "
                                       "pytest -m cudasim)")
    skip_gpu = None
    for item in items:
        if "cudasim" in item.keywords and not CUDASIM:
            item.add_marker(skip_sim)
        if "gpu" in item.keywords:
            if skip_gpu is None:
                from fastseq._backend import gpu_status
                status = gpu_status()
                skip_gpu = False if status.available else pytest.mark.skip(reason=status.reason)
            if skip_gpu:
                item.add_marker(skip_gpu)


@pytest.fixture
def rng():
    """A generator seeded afresh each test (the seed is printed on failure)."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"random seed: {seed}")
    return np.random.default_rng(seed)
