"""The CUDA recurrence kernels (fastseq/rnn/_recurrence_cuda.py and the kernel modules it launches;
the host-side planning is tested in test_cuda_plan.py).

Lanes (tests/conftest.py): the float64 NumPy reference of tests/naive.py, itself checked against torch on the CPU
(normal lane); the kernels in the CUDA simulator on tiny shapes (``cudasim``, NumPy arrays, one
block); PTX for sm_90 of every kernel in float32 and float64 (``compile``); torch/cuDNN on a real
GPU with TF32 off at the benchmark shapes (``gpu``).
"""

import numpy as np
import pytest
from naive import recurrence as naive_recurrence

from fastseq._defaults import GATES


def make_case(rng, kind, T, B, H, I=3, proj=0, dtype=np.float64, lengths="var", states=True,
              scale=0.5):
    """Random weights in torch's layout and xproj = x @ W_ih.T + b_ih."""
    G = GATES[kind]
    HO = proj or H
    w_ih = rng.uniform(-scale, scale, (G * H, I))
    b_ih = rng.uniform(-scale, scale, G * H)
    x = rng.standard_normal((T, B, I))
    xproj = (x @ w_ih.T + b_ih).astype(dtype)
    w_hh = rng.uniform(-scale, scale, (G * H, HO)).astype(dtype)
    b_hh = rng.uniform(-scale, scale, G * H).astype(dtype)
    w_hr = rng.uniform(-scale, scale, (proj, H)).astype(dtype) if proj else None
    h0 = rng.standard_normal((B, HO)).astype(dtype) if states else None
    c0 = rng.standard_normal((B, H)).astype(dtype) if states and kind == "lstm" else None
    if lengths == "var":      # 1..T, with one sequence of length T and one of length 1
        L = rng.integers(1, T + 1, B)
        L[rng.integers(B)] = T
        if B > 1:
            L[(np.argmax(L) + 1) % B] = 1
    elif lengths == "short":  # every sequence shorter than T: steps that no sequence reaches
        L = rng.integers(1, T - 1, B)
    else:
        L = np.full(B, T)
    return dict(x=x, w_ih=w_ih, b_ih=b_ih, xproj=xproj, w_hh=w_hh, b_hh=b_hh, w_hr=w_hr, h0=h0,
                c0=c0, lengths=L.astype(np.int64))


def _args(case, kind, reverse, nonlinearity="tanh"):
    return (kind, case["xproj"], case["w_hh"], case["b_hh"], case["h0"], case["c0"],
            case["lengths"], reverse, nonlinearity, case["w_hr"])


def _check(got, want, tol):
    out, h_n, c_n = got
    r_out, r_h, r_c = want
    np.testing.assert_allclose(out, r_out, rtol=0, atol=tol)
    np.testing.assert_allclose(h_n, r_h, rtol=0, atol=tol)
    if r_c is None:
        assert c_n is None
    else:
        np.testing.assert_allclose(c_n, r_c, rtol=0, atol=tol)


# ---------------------------------------------------------------- the reference against torch

@pytest.mark.parametrize("kind,proj,nonlinearity", [("lstm", 0, "tanh"), ("lstm", 3, "tanh"),
                                                    ("gru", 0, "tanh"), ("rnn", 0, "relu")])
def test_reference_matches_torch(rng, kind, proj, nonlinearity):
    """The reference's semantics (gate order, GRU's r*(W_hn h + b_hn), projection, reverse over
    each sequence's own length, zeros past the end, h_n at each sequence's last step) are torch's:
    a bidirectional torch layer on a packed batch gives the forward and the reverse direction."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    T, B, I, H = 6, 4, 3, 5
    kw = dict(proj_size=proj) if proj else {}
    if kind == "rnn":
        kw["nonlinearity"] = nonlinearity
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    m = cls(I, H, bidirectional=True, **kw).double()
    HO = proj or H
    x = rng.standard_normal((T, B, I))
    L = np.array([6, 2, 5, 1])
    h0 = rng.standard_normal((2, B, HO))
    c0 = rng.standard_normal((2, B, H))
    packed = pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(L), enforce_sorted=False)
    with torch.no_grad():
        hx = (torch.from_numpy(h0), torch.from_numpy(c0)) if kind == "lstm" \
            else torch.from_numpy(h0)
        out_p, state = m(packed, hx)
    out, _ = pad_packed_sequence(out_p, total_length=T)
    out = out.numpy()
    h_t = (state[0] if kind == "lstm" else state).numpy()
    for d, sfx in enumerate(["", "_reverse"]):
        p = {n: getattr(m, n + "_l0" + sfx).detach().numpy()
             for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
        w_hr = getattr(m, "weight_hr_l0" + sfx).detach().numpy() if proj else None
        got = naive_recurrence(kind, xproj, p["weight_hh"], p["bias_hh"], h0[d],
                        c0[d] if kind == "lstm" else None, L, bool(d), nonlinearity, w_hr)
        np.testing.assert_allclose(got[0], out[:, :, d * HO:(d + 1) * HO], atol=1e-12)
        np.testing.assert_allclose(got[1], h_t[d], atol=1e-12)
        if kind == "lstm":
            np.testing.assert_allclose(got[2], state[1][d].numpy(), atol=1e-12)


# ---------------------------------------------------------------- simulator lane

SIM_CASES = [
    # kind, proj, nonlinearity, dtype, reverse, lengths, states, path
    ("lstm", 0, "tanh", np.float64, False, "var", True, "persistent"),
    ("lstm", 0, "tanh", np.float32, True, "var", False, "persistent"),
    ("lstm", 3, "tanh", np.float64, True, "var", True, "persistent"),
    ("lstm", 7, "tanh", np.float32, False, "full", True, "persistent"),
    ("lstm", 3, "tanh", np.float64, False, "short", True, "persistent"),
    ("gru", 0, "tanh", np.float32, True, "short", True, "persistent"),
    ("gru", 0, "tanh", np.float64, True, "var", True, "persistent"),
    ("gru", 0, "tanh", np.float32, False, "full", False, "persistent"),
    ("rnn", 0, "tanh", np.float64, False, "var", True, "persistent"),
    ("rnn", 0, "relu", np.float32, True, "var", True, "persistent"),
    ("lstm", 0, "tanh", np.float64, True, "var", True, "stepwise"),
    ("lstm", 3, "tanh", np.float32, False, "var", True, "stepwise"),
    ("gru", 0, "tanh", np.float32, True, "var", True, "stepwise"),
    ("rnn", 0, "relu", np.float64, False, "var", False, "stepwise"),
    ("lstm", 0, "tanh", np.float32, True, "short", False, "stepwise"),
]


@pytest.mark.cudasim
@pytest.mark.parametrize("kind,proj,nonlinearity,dtype,reverse,lengths,states,path", SIM_CASES)
def test_kernels_in_simulator(rng, kind, proj, nonlinearity, dtype, reverse, lengths, states,
                              path):
    from fastseq.rnn._recurrence_cuda import recurrence_cuda
    T, B, H = 5, 3, 6
    case = make_case(rng, kind, T, B, H, proj=proj, dtype=dtype, lengths=lengths, states=states)
    args = _args(case, kind, reverse, nonlinearity)
    got = recurrence_cuda(*args, path=path)
    assert got[0].dtype == dtype and got[0].shape == (T, B, proj or H)
    _check(got, naive_recurrence(*args), 1e-5 if dtype == np.float32 else 1e-12)
    L = case["lengths"]
    for b in range(B):
        assert not got[0][L[b]:, b].any()  # exact zeros past each sequence's end


@pytest.mark.cudasim
@pytest.mark.parametrize("B,H,threads", [(1, 2, 64), (6, 5, 16), (5, 5, 64), (2, 3, 32)])
def test_persistent_tiling_in_simulator(rng, B, H, threads):
    """The mat-vec's work split: 8 gate rows x 1 batch tile on 64 threads (split-K by 8, a
    3-level tree), 40 tiles on 16 threads (several tiles per thread), batch sizes that are not
    multiples of the 4-row register tile, 12 tiles on 32 threads (split by 2)."""
    from fastseq.rnn._recurrence_cuda import recurrence_cuda
    case = make_case(rng, "lstm", 3, B, H, I=2)
    args = _args(case, "lstm", False)
    _check(recurrence_cuda(*args, path="persistent", threads=threads), naive_recurrence(*args), 1e-12)


@pytest.mark.cudasim
def test_inputs_untouched_and_multiblock_refused_in_simulator(rng):
    from fastseq.rnn._recurrence_cuda import recurrence_cuda
    case = make_case(rng, "gru", 4, 2, 4)
    before = {k: v.copy() for k, v in case.items() if isinstance(v, np.ndarray)}
    recurrence_cuda(*_args(case, "gru", True), path="persistent")
    for k, v in before.items():
        np.testing.assert_array_equal(case[k], v)
    # the simulator runs blocks one after another: a multi-block grid barrier must be refused
    with pytest.raises(ValueError, match="persistent"):
        recurrence_cuda(*_args(case, "gru", True), path="persistent", units_per_block=2)


# ---------------------------------------------------------------- compile lane

@pytest.mark.compile
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_compile_for_sm90(dtype):
    cuda = pytest.importorskip("numba.cuda")
    from fastseq.rnn._recurrence_cuda_kernels import kernel_signatures
    sigs = kernel_signatures(dtype)
    assert set(sigs) == {"persistent", "pointwise", "commit"}
    for name, (pyfunc, sig) in sigs.items():
        try:
            ptx, _ = cuda.compile_ptx(pyfunc, sig, cc=(9, 0))
        except Exception as exc:  # no NVVM on this machine
            if "NVVM" in str(exc) or "libNVVM" in str(exc):
                pytest.skip(f"no CUDA compiler available: {exc}")
            raise
        assert ".target sm_90" in ptx, name
        if dtype == np.float32:
            assert ".f64" not in ptx, f"{name}: float64 arithmetic in the float32 kernel"
        if name == "persistent":
            assert "atom.global.add" in ptx and ("membar.gl" in ptx or "fence" in ptx)
            assert ".local" not in ptx, "register spills / local arrays in the persistent kernel"


def _ptxas_info(ptx, tmp_path):
    """ptxas -v on the PTX: (registers per thread, spill bytes). NVVM may emit a newer PTX ISA
    than this machine's ptxas reads: then the .version line is set to the one ptxas names."""
    import re
    import shutil
    import subprocess
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        pytest.skip("no ptxas on this machine")
    src = tmp_path / "k.ptx"
    for _ in range(2):
        src.write_text(ptx)
        r = subprocess.run([ptxas, "-arch=sm_90", "-v", str(src), "-o", str(tmp_path / "k.cubin")],
                           capture_output=True, text=True)
        m = re.search(r"Unsupported \.version [\d.]+; current version is '([\d.]+)'", r.stderr)
        if r.returncode == 0 or m is None:
            break
        ptx = re.sub(r"^\.version [\d.]+", f".version {m.group(1)}", ptx, flags=re.M)
    assert r.returncode == 0, r.stderr
    regs = int(re.search(r"Used (\d+) registers", r.stderr).group(1))
    spills = sum(int(v) for v in re.findall(r"(\d+) bytes spill", r.stderr))
    return regs, spills


@pytest.mark.compile
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_persistent_kernel_fits_one_sm(dtype, tmp_path):
    """A persistent block of DEFAULT_THREADS threads must fit one SM's 65,536 registers (else the
    launch fails, or blocks cannot all be resident), without spilling to local memory."""
    cuda = pytest.importorskip("numba.cuda")
    from fastseq.rnn._cuda_plan import DEFAULT_THREADS
    from fastseq.rnn._recurrence_cuda_kernels import kernel_signatures
    pyfunc, sig = kernel_signatures(dtype)["persistent"]
    try:
        ptx, _ = cuda.compile_ptx(pyfunc, sig, cc=(9, 0))
    except Exception as exc:
        if "NVVM" in str(exc) or "libNVVM" in str(exc):
            pytest.skip(f"no CUDA compiler available: {exc}")
        raise
    regs, spills = _ptxas_info(ptx, tmp_path)
    assert regs * DEFAULT_THREADS <= 65536, regs
    assert spills == 0


# ---------------------------------------------------------------- GPU lane

def _torch_reference(torch, kind, case, reverse, nonlinearity="tanh", device="cuda",
                     dtype=None):
    """torch (cuDNN on a GPU) on a packed batch: the reverse direction by running forward over
    each sequence reversed within its own length. Returns NumPy (out, h_n, c_n)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    dtype = dtype or torch.float32
    dev = torch.device(device)
    H = case["b_hh"].shape[0] // GATES[kind]
    proj = 0 if case["w_hr"] is None else case["w_hr"].shape[0]
    I = case["x"].shape[2]
    kw = dict(proj_size=proj) if proj else {}
    if kind == "rnn":
        kw["nonlinearity"] = nonlinearity
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    m = cls(I, H, **kw).to(dev, dtype)
    sd = {"weight_ih_l0": case["w_ih"], "weight_hh_l0": case["w_hh"], "bias_ih_l0": case["b_ih"],
          "bias_hh_l0": case["b_hh"]}
    if proj:
        sd["weight_hr_l0"] = case["w_hr"]
    m.load_state_dict({k: torch.tensor(np.asarray(v, np.float64), dtype=dtype)
                       for k, v in sd.items()})
    T, B = case["x"].shape[:2]
    x = torch.tensor(case["x"], dtype=dtype, device=dev)
    idx = np.tile(np.arange(T)[:, None], (1, B))
    if reverse:
        for b, n in enumerate(case["lengths"]):
            idx[:n, b] = np.arange(n - 1, -1, -1)
    x = torch.gather(x, 0, torch.from_numpy(idx).to(dev)[:, :, None].expand_as(x).contiguous())
    HO = proj or H
    h0 = np.zeros((B, HO)) if case["h0"] is None else case["h0"]
    h0 = torch.tensor(np.asarray(h0, np.float64), dtype=dtype, device=dev)[None]
    if kind == "lstm":
        c0 = np.zeros((B, H)) if case["c0"] is None else case["c0"]
        hx = (h0, torch.tensor(np.asarray(c0, np.float64), dtype=dtype, device=dev)[None])
    else:
        hx = h0
    packed = pack_padded_sequence(x, torch.from_numpy(case["lengths"]), enforce_sorted=False)
    with torch.no_grad():
        out_p, state = m(packed, hx)
    out, _ = pad_packed_sequence(out_p, total_length=T)
    out = np.take_along_axis(out.cpu().double().numpy(), idx[:, :, None], 0)
    for b, n in enumerate(case["lengths"]):
        out[n:, b] = 0
    h_n = (state[0] if kind == "lstm" else state)[0].cpu().double().numpy()
    c_n = state[1][0].cpu().double().numpy() if kind == "lstm" else None
    return out, h_n, c_n


@pytest.mark.parametrize("kind,proj,nonlinearity,reverse", [
    ("lstm", 0, "tanh", True), ("lstm", 4, "tanh", False), ("gru", 0, "tanh", True),
    ("rnn", 0, "relu", False)])
def test_gpu_lane_torch_reference_on_cpu(rng, kind, proj, nonlinearity, reverse):
    """The torch comparison the GPU tests use, run here on the CPU in float64: it must agree
    with the float64 reference (so a GPU failure points at the kernels, not at the harness)."""
    torch = pytest.importorskip("torch")
    case = make_case(rng, kind, 7, 5, 6, I=3, proj=proj)
    got = _torch_reference(torch, kind, case, reverse, nonlinearity, device="cpu",
                           dtype=torch.float64)
    _check(got, naive_recurrence(*_args(case, kind, reverse, nonlinearity)), 1e-12)


@pytest.fixture
def no_tf32():
    torch = pytest.importorskip("torch")
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield torch
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


GPU_CASES = [  # kind, B, H, proj, lengths, reverse, path
    ("lstm", 1, 128, 0, "full", False, "auto"),
    ("lstm", 8, 128, 0, "var", True, "auto"),
    ("lstm", 32, 128, 0, "var", False, "auto"),
    ("gru", 1, 128, 0, "full", True, "auto"),
    ("gru", 8, 128, 0, "var", False, "auto"),
    ("gru", 32, 128, 0, "var", True, "auto"),
    ("rnn", 8, 128, 0, "var", True, "auto"),
    ("lstm", 8, 128, 64, "var", True, "auto"),
    ("lstm", 32, 128, 0, "var", True, "stepwise"),
    ("gru", 8, 128, 0, "var", False, "stepwise"),
    ("lstm", 64, 512, 0, "var", False, "auto"),
    ("gru", 64, 512, 0, "var", True, "auto"),
    # needs the opt-in shared memory limit (66 KB per block): fails loudly if it did not take
    ("lstm", 8, 512, 0, "var", True, "persistent"),
]


@pytest.mark.gpu
@pytest.mark.parametrize("kind,B,H,proj,lengths,reverse,path", GPU_CASES)
def test_gpu_matches_torch_cudnn(rng, no_tf32, kind, B, H, proj, lengths, reverse, path):
    cupy = pytest.importorskip("cupy")
    from fastseq.rnn._recurrence_cuda import recurrence_cuda
    torch = no_tf32
    case = make_case(rng, kind, 100, B, H, I=64, proj=proj, dtype=np.float32, lengths=lengths,
                     scale=1 / np.sqrt(H))
    want = _torch_reference(torch, kind, case, reverse)
    d = {k: (cupy.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in case.items()}
    got = recurrence_cuda(*_args(d, kind, reverse), path=path)
    assert isinstance(got[0], cupy.ndarray)
    got = tuple(None if a is None else cupy.asnumpy(a) for a in got)
    _check(got, want, 2e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("kind,proj,units_per_block", [
    ("lstm", 0, 1), ("lstm", 0, 2), ("lstm", 0, 4), ("lstm", 48, 2), ("gru", 0, 1),
    ("rnn", 0, 2)])
def test_gpu_persistent_grid_shapes(rng, kind, proj, units_per_block):
    """Different grid sizes (128, 64, 32 blocks at H=128) give the float64 reference's numbers:
    this exercises the grid barrier across many resident blocks (two per step with a
    projection)."""
    cupy = pytest.importorskip("cupy")
    from fastseq.rnn._recurrence_cuda import recurrence_cuda
    case = make_case(rng, kind, 100, 8, 128, I=64, proj=proj, dtype=np.float64,
                     scale=1 / np.sqrt(128))
    d = {k: (cupy.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in case.items()}
    got = recurrence_cuda(*_args(d, kind, True), path="persistent",
                          units_per_block=units_per_block)
    got = tuple(None if a is None else cupy.asnumpy(a) for a in got)
    _check(got, naive_recurrence(*_args(case, kind, True)), 1e-10)


@pytest.mark.gpu
def test_gpu_auto_path_choice():
    """On an H100/H200-class device the benchmark shapes take the intended paths."""
    cupy = pytest.importorskip("cupy")
    from fastseq.rnn._cuda_plan import choose_path, device_sm_count, optin_smem_budget
    from fastseq.rnn._recurrence_cuda_kernels import allow_persistent_smem
    dev = cupy.cuda.Device().id
    n_sm = device_sm_count(dev)
    if n_sm < 64:
        pytest.skip(f"{n_sm} SMs: the rule is written for H100/H200-class devices")
    budget = optin_smem_budget(dev, "float32", allow_persistent_smem)
    for kind in ("lstm", "gru"):
        for B in (1, 8, 32):
            path, plan = choose_path(kind, B, 128, 128, 128, False, 4, n_sm, smem_budget=budget)
            assert path == "persistent" and plan["blocks"] <= n_sm, (kind, B)
        assert choose_path(kind, 64, 512, 512, 512, False, 4, n_sm,
                           smem_budget=budget)[0] == "stepwise"
