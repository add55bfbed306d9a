"""Host-side planning of the CUDA recurrence (fastseq/rnn/_cuda_plan.py): path choice, launch plans,
the shared-memory layout count and the opt-in fallback. CPU lane: no GPU and no simulator needed;
the only things replaced are the device queries (``_device_properties``) and the driver call that
raises a kernel's shared-memory limit (the ``allow`` argument of ``optin_smem_budget``).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from fastseq._defaults import GATES
from fastseq.rnn import _cuda_plan as plan
from fastseq.rnn._cuda_plan import (BT, DEFAULT_THREADS, MAX_BLOCK_MACS, SIM_THREADS, SMEM_BUDGET,
                                    TARGET_BLOCKS, choose_path, persistent_smem_elements,
                                    plan_persistent)

OPTIN_H100 = 227 * 1024


def test_importing_the_plan_needs_no_numba_cupy_or_kernels():
    """The planning module imports neither Numba, CuPy nor the kernel modules, so it can be used
    (and tested) on any CPU machine."""
    code = ("import sys, fastseq.rnn._cuda_plan as p; "
            "p.choose_path('lstm', 8, 128, 128, 128, False, 4, 132, threads=256); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('numba', 'cupy') "
            "or m.startswith('fastseq.rnn._recurrence_cuda')]; print(bad); sys.exit(bool(bad))")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- launch plans

def test_plan_fits_and_respects_sm_count():
    # H=128, B=32 LSTM in float32 on 132 SMs: persistent, every block resident and under budget,
    # and the hidden units split exactly over the grid.
    p = plan_persistent("lstm", 32, 128, 128, 128, False, 4, 132, threads=256)
    assert p is not None and p["blocks"] <= 132 and p["smem_bytes"] <= SMEM_BUDGET
    assert p["blocks"] * p["U"] >= 128 and (p["blocks"] - 1) * p["U"] < 128
    assert p["smem_bytes"] == 4 * persistent_smem_elements(4, p["U"], 0, 128, 128, 32, 256, False)
    # With a projection the output rows are split over the same grid.
    p = plan_persistent("lstm", 8, 128, 64, 64, True, 4, 132, threads=256)
    assert p["PU"] * p["blocks"] >= 64
    # H=512, B=64: staging h (64 x 513 floats = 131 KB) cannot fit one block -> stepwise; with
    # the 227 KB opt-in it would fit, but 4*U*64*512 multiply-adds per block and step exceed the
    # work cap at every grid size up to 132 blocks -> still stepwise.
    assert plan_persistent("lstm", 64, 512, 512, 512, False, 4, 132, threads=256) is None
    assert plan_persistent("lstm", 64, 512, 512, 512, False, 4, 132, threads=256,
                           smem_budget=OPTIN_H100) is None
    # H=512, B=8 needs the opt-in (a 64-block slice of W_hh is 32 x 513 floats = 66 KB).
    assert plan_persistent("lstm", 8, 512, 512, 512, False, 4, 132, threads=256) is None
    p = plan_persistent("lstm", 8, 512, 512, 512, False, 4, 132, threads=256,
                        smem_budget=OPTIN_H100)
    assert p["blocks"] == 64 and SMEM_BUDGET < p["smem_bytes"] <= OPTIN_H100
    assert p["macs"] == 4 * 8 * 8 * 512
    # One SM (the simulator): a single block owning all units, or nothing.
    p = plan_persistent("gru", 3, 8, 8, 8, False, 8, 1, threads=32)
    assert p["blocks"] == 1 and p["U"] == 8
    assert plan_persistent("gru", 3, 8, 8, 8, False, 8, 1, threads=32, units_per_block=4) is None
    with pytest.raises(ValueError, match="threads"):
        plan_persistent("gru", 3, 8, 8, 8, False, 8, 1, threads=48)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_small_hidden_size_is_persistent_large_is_stepwise(kind):
    """The benchmark shapes on an H100-class device (132 SMs, 227 KB opt-in): H=128 at B=1, 8, 32
    runs persistent on 64 blocks; H=512 at B=64 is left to cuBLAS."""
    for B in (1, 8, 32):
        path, p = choose_path(kind, B, 128, 128, 128, False, 4, 132, threads=256,
                              smem_budget=OPTIN_H100)
        assert path == "persistent", B
        assert p["blocks"] == TARGET_BLOCKS and p["U"] == 2 and p["macs"] <= MAX_BLOCK_MACS
    assert choose_path(kind, 64, 512, 512, 512, False, 4, 132, threads=256,
                       smem_budget=OPTIN_H100) == ("stepwise", None)


def _draw_shape(rng):
    kind = str(rng.choice(["lstm", "gru", "rnn"]))
    H = int(rng.integers(1, 700))
    has_proj = kind == "lstm" and H > 1 and rng.random() < 0.3
    HO = int(rng.integers(1, H)) if has_proj else H
    return dict(kind=kind, B=int(rng.integers(1, 130)), H=H, K=HO, HO=HO, has_proj=has_proj,
                itemsize=int(rng.choice([4, 8])), n_sm=int(rng.integers(1, 200)))


def _search_start(H, n_sm):
    """Units per block of the first grid tried: min(n_sm, TARGET_BLOCKS, H) blocks."""
    return -(-H // min(n_sm, TARGET_BLOCKS, H))


def test_random_shapes_plan_within_every_limit(rng):
    """Fresh random shapes, devices and budgets: a persistent plan never has more blocks than SMs,
    fits the shared-memory budget and the work cap, covers every hidden unit and projection row,
    reports the shared memory of its own layout, and uses the fewest blocks that fit; 'stepwise'
    comes only when no grid from the search start down to one unit per block fits."""
    n_persistent = n_stepwise = 0
    for _ in range(300):
        s = _draw_shape(rng)
        threads = int(2 ** rng.integers(0, 11))
        budget = int(rng.choice([SMEM_BUDGET, OPTIN_H100, int(rng.integers(1, 300_000))]))
        cap = int(rng.choice([MAX_BLOCK_MACS, int(rng.integers(1, 1 << 22))]))
        kind, B, H, K, HO, has_proj, itemsize, n_sm = s.values()
        G = GATES[kind]
        path, p = choose_path(kind, B, H, K, HO, has_proj, itemsize, n_sm, threads=threads,
                              smem_budget=budget, max_block_macs=cap)

        def fits(U):
            blocks = -(-H // U)
            PU = -(-HO // blocks) if has_proj else 0
            smem = itemsize * persistent_smem_elements(G, U, PU, K, H, B, threads, has_proj)
            return blocks <= n_sm and smem <= budget and G * U * B * K + PU * B * H <= cap

        feasible = [U for U in range(_search_start(H, n_sm), 0, -1) if fits(U)]
        if path == "stepwise":
            n_stepwise += 1
            assert p is None and not feasible, (s, feasible[:3])
            continue
        n_persistent += 1
        assert p["U"] == feasible[0], s           # the largest slice (fewest blocks) that fits
        assert p["threads"] == threads
        assert p["blocks"] <= n_sm and p["smem_bytes"] <= budget and p["macs"] <= cap
        assert p["blocks"] * p["U"] >= H > (p["blocks"] - 1) * p["U"]
        assert p["PU"] * p["blocks"] >= HO if has_proj else p["PU"] == 0
        assert p["smem_bytes"] == itemsize * persistent_smem_elements(
            G, p["U"], p["PU"], K, H, B, threads, has_proj)
        assert p["macs"] == G * p["U"] * B * K + p["PU"] * B * H
    assert n_persistent > 0 and n_stepwise > 0   # both outcomes were exercised


def test_larger_budget_never_loses_a_plan(rng):
    """More shared memory can only add plans: persistent under a budget stays persistent under a
    larger one, with at least as many units per block."""
    for _ in range(200):
        s = _draw_shape(rng)
        small = int(rng.integers(1, 100_000))
        large = small + int(rng.integers(0, 200_000))
        p_small = plan_persistent(*s.values(), threads=256, smem_budget=small)
        p_large = plan_persistent(*s.values(), threads=256, smem_budget=large)
        if p_small is not None:
            assert p_large is not None and p_large["U"] >= p_small["U"], s


def test_explicit_units_per_block_applies_only_the_hard_limits(rng):
    """units_per_block bypasses the work cap (tuning), never the SM count or the budget."""
    H = int(rng.integers(8, 300))
    U = int(rng.integers(1, H + 1))
    blocks = -(-H // U)
    p = plan_persistent("lstm", 16, H, H, H, False, 4, blocks, units_per_block=U, threads=64,
                        smem_budget=10**9, max_block_macs=1)
    assert p["U"] == U and p["blocks"] == blocks and p["macs"] > 1
    if blocks > 1:
        assert plan_persistent("lstm", 16, H, H, H, False, 4, blocks - 1, units_per_block=U,
                               threads=64, smem_budget=10**9) is None
    assert plan_persistent("lstm", 16, H, H, H, False, 4, blocks, units_per_block=U, threads=64,
                           smem_budget=p["smem_bytes"] - 1) is None


@pytest.mark.parametrize("threads", [3, 48, 100, 255])
def test_threads_must_be_a_power_of_two(threads):
    with pytest.raises(ValueError, match=f"threads: expected a power of two, got {threads}"):
        plan_persistent("gru", 3, 8, 8, 8, False, 8, 1, threads=threads)


@pytest.mark.parametrize("in_simulator,expected", [(False, DEFAULT_THREADS), (True, SIM_THREADS)])
def test_default_threads_follow_the_simulator(monkeypatch, in_simulator, expected):
    monkeypatch.setattr(plan, "running_in_simulator", lambda: in_simulator)
    assert plan_persistent("gru", 3, 8, 8, 8, False, 8, 1)["threads"] == expected


def test_running_in_simulator_reads_numba_config():
    assert plan.running_in_simulator() == (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1")


def test_shared_memory_layout_count(rng):
    """persistent_smem_elements against the parts listed in docs/rnn_cuda.md, summed one by one,
    and the table there (LSTM, H=128, U=2, float32, 256 threads: 11.4 / 13.9 / 27.9 KB)."""
    for B, kb in ((1, 11.4), (8, 13.9), (32, 27.9)):
        got = 4 * persistent_smem_elements(4, 2, 0, 128, 128, B, 256, False)
        assert round(got / 1000, 1) == kb, B
    for _ in range(100):
        G = int(rng.choice([1, 3, 4]))
        U, PU, K, H, B = (int(v) for v in rng.integers(1, 200, 5))
        nt = int(2 ** rng.integers(0, 11))
        has_proj = bool(rng.random() < 0.5)
        R = G * U
        parts = [R * (K + 32),                                   # W_hh slice, padded rows
                 PU * (H + 32) if has_proj else 0,               # W_hr slice
                 R,                                              # b_hh slice
                 -(-B // BT) * BT * (max(K, H) if has_proj else K),  # staged vector
                 R * B,                                          # x_t slice
                 max(R, PU) * B,                                 # pre-activations
                 nt * BT,                                        # reduction partials
                 U * B]                                          # cell state slice
        assert persistent_smem_elements(G, U, PU, K, H, B, nt, has_proj) == sum(parts)


# ---------------------------------------------------------------- device facts

def test_simulator_has_one_sm():
    assert plan.sm_count(np) == 1


def test_device_sm_count_is_queried_once_per_device(monkeypatch, rng):
    counts = {0: int(rng.integers(1, 200)), 1: int(rng.integers(1, 200))}
    queries = []

    def properties(device_id):
        queries.append(device_id)
        return {"multiProcessorCount": counts[device_id]}

    monkeypatch.setattr(plan, "_device_properties", properties)
    plan.device_sm_count.cache_clear()
    try:
        assert [plan.device_sm_count(d) for d in (0, 1, 0, 1)] == [counts[0], counts[1]] * 2
        assert queries == [0, 1]
    finally:
        plan.device_sm_count.cache_clear()


@pytest.fixture
def fake_device(monkeypatch):
    """A device whose opt-in limit is ``state['optin']``; the driver call that raises the kernel's
    limit is recorded in ``state['raised']`` and fails when ``state['fail']`` is set."""
    state = {"optin": OPTIN_H100, "fail": None, "queries": 0, "raised": []}

    def properties(device_id):
        state["queries"] += 1
        if state["fail"] == "query":
            raise RuntimeError("no device")
        return {"sharedMemPerBlockOptin": state["optin"]}

    def allow(dtype_name, nbytes):
        if state["fail"] == "attribute":
            raise RuntimeError("cuKernelSetAttribute failed")
        state["raised"].append((dtype_name, nbytes))

    monkeypatch.setattr(plan, "_device_properties", properties)
    state["allow"] = allow
    monkeypatch.setattr(plan, "OPTIN_FAILED", set())
    plan.optin_smem_budget.cache_clear()
    yield state
    plan.optin_smem_budget.cache_clear()


def test_optin_budget_raises_the_kernel_limit_once(fake_device):
    assert plan.optin_smem_budget(0, "float32", fake_device["allow"]) == OPTIN_H100
    assert plan.optin_smem_budget(0, "float32", fake_device["allow"]) == OPTIN_H100
    assert plan.optin_smem_budget(0, "float64", fake_device["allow"]) == OPTIN_H100
    assert fake_device["raised"] == [("float32", OPTIN_H100), ("float64", OPTIN_H100)]
    assert fake_device["queries"] == 2


def test_optin_budget_is_never_below_the_default(fake_device):
    fake_device["optin"] = SMEM_BUDGET // 2
    assert plan.optin_smem_budget(0, "float32", fake_device["allow"]) == SMEM_BUDGET


@pytest.mark.parametrize("failure", ["query", "attribute"])
def test_optin_budget_falls_back_when_the_device_refuses(fake_device, failure):
    fake_device["fail"] = failure
    assert plan.optin_smem_budget(0, "float32", fake_device["allow"]) == SMEM_BUDGET
    assert fake_device["raised"] == []


def test_refused_optin_stays_refused_on_that_device_only(fake_device):
    """After a failed launch above SMEM_BUDGET (refuse_optin) the device plans under the default
    budget even though the opt-in had been granted and cached; other devices keep theirs."""
    assert plan.optin_smem_budget(0, "float32", fake_device["allow"]) == OPTIN_H100
    assert plan.optin_smem_budget(1, "float32", fake_device["allow"]) == OPTIN_H100
    plan.refuse_optin(0)
    assert plan.OPTIN_FAILED == {0}
    queries = fake_device["queries"]
    assert plan.optin_smem_budget(0, "float32", fake_device["allow"]) == SMEM_BUDGET
    assert plan.optin_smem_budget(0, "float64", fake_device["allow"]) == SMEM_BUDGET
    assert fake_device["queries"] == queries        # a refused device is not asked again
    assert plan.optin_smem_budget(1, "float32", fake_device["allow"]) == OPTIN_H100
    # and the plans follow: H=512, B=8 needs the opt-in
    shape = ("lstm", 8, 512, 512, 512, False, 4, 132)
    allow = fake_device["allow"]
    granted, refused = (plan.optin_smem_budget(dev, "float32", allow) for dev in (1, 0))
    assert choose_path(*shape, threads=256, smem_budget=granted)[0] == "persistent"
    assert choose_path(*shape, threads=256, smem_budget=refused) == ("stepwise", None)


def test_optin_budget_without_a_gpu_is_the_default():
    """Unpatched, on a machine without a usable GPU: the real device query fails and the budget
    stays at SMEM_BUDGET."""
    from fastseq._backend import gpu_status
    if gpu_status().available:
        pytest.skip("a GPU is available: the opt-in may succeed here")
    from fastseq.rnn._recurrence_cuda_kernels import allow_persistent_smem
    plan.optin_smem_budget.cache_clear()
    try:
        assert plan.optin_smem_budget(0, "float32", allow_persistent_smem) == SMEM_BUDGET
    finally:
        plan.optin_smem_budget.cache_clear()
