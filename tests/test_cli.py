"""The ``fastseq`` command: info, compare, kmeans and demo, called in-process through
``fastseq.cli.main``, plus real processes: the installed console script, ``python -m fastseq``
and ``python -m fastseq.cli`` (run with this checkout first on PYTHONPATH).

User errors (missing file, unreadable format, k > rows, NaN) must end with exit status 2 and one
line on stderr, never a traceback.
"""

import ast
import operator
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fastseq import cli


def _rnn_available():
    from importlib import import_module
    try:
        import_module("fastseq.rnn").LSTM
    except ImportError:
        return False
    return True


needs_rnn = pytest.mark.skipif(not _rnn_available(),
                               reason="fastseq.LSTM does not import yet (fastseq/rnn in progress)")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _checkout_env():
    """The environment for a child process, with this checkout first on PYTHONPATH, so that it
    imports the fastseq under test and not another installed copy."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def run_cli(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def parse_table(text, first_header):
    """Rows of the aligned table whose header line starts with ``first_header``: a list of
    {column: cell} (columns are separated by two or more spaces)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_header))
    header = re.split(r"\s{2,}", lines[start].strip())
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(header), (header, cells)
        rows.append(dict(zip(header, cells)))
    return rows


def assert_one_line_error(rc, out, err, command, *fragments):
    assert rc == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fastseq {command}: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ---- info ---------------------------------------------------------------------------------

def test_info_in_process(capsys):
    import numba

    import fastseq
    rc, out, err = run_cli(capsys, "info")
    assert rc == 0 and err == ""
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines())
    assert rows["fastseq"] == fastseq.__version__
    assert rows["numba"] == numba.__version__
    assert rows["numba threads"].startswith(f"{numba.get_num_threads()} ")
    status = fastseq.gpu_status()
    assert rows["cuda"] == ("usable" if status.available else f"not usable: {status.reason}")


def test_info_console_script():
    """The installed entry point (``pip install -e .`` puts it on PATH next to the python)."""
    exe = shutil.which("fastseq") or shutil.which("fastseq", path=os.path.dirname(sys.executable))
    assert exe, "the `fastseq` console script is not installed: python3 -m pip install -e ."
    done = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=300,
                          env=_checkout_env())
    assert done.returncode == 0, done.stderr
    assert re.search(r"^fastseq\s+0\.1\.0$", done.stdout, re.M), done.stdout
    assert "numba threads" in done.stdout and "cuda" in done.stdout
    # and an error through the real process: exit status 2, one line, no traceback
    done = subprocess.run([exe, "kmeans", "no-such-file.npy", "-k", "2"], capture_output=True,
                          text=True, timeout=300, env=_checkout_env())
    assert_one_line_error(done.returncode, done.stdout, done.stderr, "kmeans", "no-such-file.npy")


@pytest.mark.parametrize("module", ["fastseq", "fastseq.cli"])
def test_python_m_help_lists_the_subcommands(module):
    """``python -m fastseq --help`` and ``python -m fastseq.cli --help`` exit 0 and print the
    console script's help: prog ``fastseq`` and all four subcommands."""
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, timeout=300, env=_checkout_env(), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: fastseq ")
    assert "{info,demo,compare,kmeans,gradients}" in done.stdout
    for command in ("info", "demo", "compare", "kmeans"):
        assert re.search(rf"^    {command}\s", done.stdout, re.M), (command, done.stdout)


def test_python_m_runs_a_subcommand():
    """``python -m fastseq`` runs the subcommand and keeps the exit status of an error (2)."""
    argv = [sys.executable, "-m", "fastseq", "kmeans", "no-such-file.npy", "-k", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=_checkout_env(),
                          cwd=ROOT)
    assert_one_line_error(done.returncode, done.stdout, done.stderr, "kmeans", "no-such-file.npy")


def test_import_fastseq_does_not_import_the_cli():
    """``import fastseq`` leaves the CLI (and torch, CuPy, Dask) unimported."""
    code = ("import sys, fastseq; bad = [m for m in ('fastseq.cli', 'torch', 'cupy', 'dask') "
            "if m in sys.modules]; print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=_checkout_env(), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---- compare ------------------------------------------------------------------------------

def _arith(expr):
    """Evaluate an integer expression of + and * (the formulas' right-hand sides)."""
    ops = {ast.Add: operator.add, ast.Mult: operator.mul}

    def ev(node):
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(f"unexpected formula syntax: {expr!r}")

    return ev(ast.parse(expr, mode="eval").body)


def _formulas(out):
    """{model name: (numeric expression value, stated total)} from the formula lines."""
    result = {}
    for line in out.splitlines():
        m = re.match(r"^  (Conv1d|TCN|RNN \(tanh\)|GRU|LSTM)\s+[^=]+= (.+?) = ([\d,]+)", line)
        if m:
            result[m.group(1)] = (_arith(m.group(2)), int(m.group(3).replace(",", "")))
    return result


def _torch_modules(F, H, k, layers, bidirectional):
    torch = pytest.importorskip("torch")
    conv = torch.nn.Sequential(*[torch.nn.Conv1d(F if i == 0 else H, H, k) for i in range(layers)])
    kw = dict(num_layers=layers, bidirectional=bidirectional, batch_first=True)
    return torch, {"Conv1d": conv, "RNN (tanh)": torch.nn.RNN(F, H, **kw),
                   "GRU": torch.nn.GRU(F, H, **kw), "LSTM": torch.nn.LSTM(F, H, **kw)}


def _check_tcn_row(torch, row, formula, B, T, F, H, k):
    """The TCN row: dilations 1, 2, 4, ... until the receptive field covers T; parameters of the
    equivalent torch stack; T * per-step MACs."""
    from fastseq.cli._compare_conv import tcn_layout, torch_tcn
    k_tcn, dilations = tcn_layout(T, k)
    assert 1 + (k_tcn - 1) * sum(dilations) >= T > 1 + (k_tcn - 1) * sum(dilations[:-1]) or \
        len(dilations) == 1
    seq = torch_tcn(torch, F, H, k_tcn, dilations)
    expected = sum(p.numel() for p in seq.parameters())
    assert int(row["params"].replace(",", "")) == expected and formula == (expected, expected)
    assert row["output shape"] == str((B, H, T))
    assert row["sequential steps"] == str(len(dilations))
    macs = T * sum(m.weight.numel() for m in seq)
    assert int(row["MACs / sequence"].replace(",", "")) == macs


@needs_rnn
@pytest.mark.parametrize("B, T, F, H, k, layers, bidirectional", [
    (2, 6, 64, 128, 3, 1, False),   # F=64, H=128 (the counts do not depend on B or T)
    (3, 9, 5, 7, 2, 2, True),       # two layers, bidirectional, kernel 2
    (1, 5, 16, 8, 3, 2, False),
])
def test_compare_numbers_match_torch(capsys, B, T, F, H, k, layers, bidirectional):
    torch, modules = _torch_modules(F, H, k, layers, bidirectional)
    argv = ["compare", "--batch", B, "--time", T, "--features", F, "--hidden", H, "--kernel", k,
            "--layers", layers, "--repeats", 1] + (["--bidirectional"] if bidirectional else [])
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 0, err
    rows = {r["model"]: r for r in parse_table(out, "model")}
    assert list(rows) == ["Conv1d", "TCN", "RNN (tanh)", "GRU", "LSTM"]
    formulas = _formulas(out)
    _check_tcn_row(torch, rows["TCN"], formulas["TCN"], B, T, F, H, k)
    for name, row in rows.items():
        if bidirectional and name not in ("Conv1d", "TCN"):
            assert row["fastseq / step"] == "n/a", name   # a bidirectional layer cannot stream
        else:
            assert float(row["fastseq / step"].removesuffix(" us")) > 0, name
        assert row["fastseq within 5 ms"] in ("sequence + step", "sequence", "step", "no")
    D = 2 if bidirectional else 1
    x = torch.randn(B, T, F)
    for name, module in modules.items():
        row = rows[name]
        expected = sum(p.numel() for p in module.parameters())
        assert int(row["params"].replace(",", "")) == expected, name
        assert formulas[name] == (expected, expected), name
        with torch.inference_mode():
            if name == "Conv1d":
                shape = tuple(module(x.transpose(1, 2)).shape)
                assert row["output shape"] == str(shape)
                t_out = T - layers * (k - 1)
                macs = H * F * k * (T - (k - 1)) + sum(H * H * k * (T - (i + 1) * (k - 1))
                                                       for i in range(1, layers))
                assert int(row["MACs / sequence"].replace(",", "")) == macs
                assert shape == (B, H, t_out)
                assert row["sequential steps"] == str(layers)
                assert float(row["fastseq / batch"].removesuffix(" ms")) > 0
            else:
                output, h_n = module(x)
                if name == "LSTM":
                    h_n, c_n = h_n
                    assert f"c_n {tuple(c_n.shape)}" in row["output shape"]
                assert row["output shape"].startswith(f"{tuple(output.shape)}; h_n "
                                                      f"{tuple(h_n.shape)}")
                G = {"RNN (tanh)": 1, "GRU": 3, "LSTM": 4}[name]
                macs = sum(D * T * G * H * ((F if i == 0 else D * H) + H) for i in range(layers))
                assert int(row["MACs / sequence"].replace(",", "")) == macs
                assert row["sequential steps"] == str(T * layers)
                fast = float(row["fastseq / batch"].removesuffix(" ms"))
                per_sample = float(row["fastseq / sample"].removesuffix(" ms"))
                assert fast > 0 and per_sample == pytest.approx(fast / B, rel=1e-2, abs=2e-3)
        assert float(row["torch / batch"].removesuffix(" ms")) > 0


@needs_rnn
def test_compare_counts_for_64_features_128_hidden(capsys):
    """Parameter counts and the GRU formula line for F=64, H=128, kernel 3, one layer, on a tiny
    batch (they do not depend on B or T)."""
    rc, out, err = run_cli(capsys, "compare", "--batch", 1, "--time", 3, "--features", 64,
                           "--hidden", 128, "--repeats", 1)
    assert rc == 0, err
    rows = {r["model"]: r["params"] for r in parse_table(out, "model")}
    assert rows == {"Conv1d": "24,704", "TCN": "33,024", "RNN (tanh)": "24,832", "GRU": "74,496",
                    "LSTM": "99,328"}
    assert "GRU         G*(H*I + H*H + 2H) = 3*(128*64 + 128*128 + 2*128) = 74,496" in out


def test_compare_rejects_too_short_time(capsys):
    rc, out, err = run_cli(capsys, "compare", "--batch", 2, "--time", 4, "--features", 3,
                           "--hidden", 4, "--kernel", 3, "--layers", 2)
    assert_one_line_error(rc, out, err, "compare", "--time >= 5")


# ---- kmeans -------------------------------------------------------------------------------

def _blobs(n=600, d=4, k=5, seed=3):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, (k, d))
    return (centers[rng.integers(0, k, n)] + rng.standard_normal((n, d))).astype(np.float32)


def _summary(out):
    return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines()
                if re.match(r"^(inertia|iterations|time)\s", line))


@pytest.mark.parametrize("fmt", ["npy", "csv"])
def test_kmeans_writes_the_same_result_as_the_api(capsys, tmp_path, fmt):
    import fastseq
    X = _blobs()
    path = tmp_path / f"data.{fmt}"
    if fmt == "npy":
        np.save(path, X)
        ref_X = X
    else:
        ref_X = X.astype(np.float64)  # CSV is read as float64
        np.savetxt(path, ref_X, delimiter=",", fmt="%.17g", header="a,b,c,d", comments="")
    out_path = tmp_path / "result.npz"
    rc, out, err = run_cli(capsys, "kmeans", path, "-k", 5, "--seed", 7, "--device", "cpu",
                           "-o", out_path)
    assert rc == 0, err
    assert err == ""  # no progress bar: stderr is not a terminal and --progress was not given
    ref = fastseq.KMeans(n_clusters=5, n_init=1, random_state=7, device="cpu").fit(ref_X)
    saved = np.load(out_path)
    assert saved["labels"].shape == (600,)
    np.testing.assert_array_equal(saved["labels"], ref.labels_)
    np.testing.assert_allclose(saved["centers"], ref.cluster_centers_, rtol=1e-6, atol=1e-6)
    assert saved["centers"].dtype == ref.cluster_centers_.dtype
    summary = _summary(out)
    assert float(summary["inertia"]) == pytest.approx(ref.inertia_, rel=1e-5)
    assert int(summary["iterations"]) == ref.n_iter_
    assert out.startswith("KMeans: 600 rows x 4 features, k=5, device=cpu")
    assert f"wrote labels and centers to {out_path}" in out


def test_kmeans_minibatch_matches_the_api_and_draws_progress(capsys, tmp_path):
    import fastseq
    X = _blobs(n=3000)
    np.save(tmp_path / "x.npy", X)
    rc, out, err = run_cli(capsys, "kmeans", tmp_path / "x.npy", "-k", 5, "--minibatch",
                           "--seed", 1, "--device", "cpu", "--progress", "-o", tmp_path / "mb")
    assert rc == 0
    ref = fastseq.MiniBatchKMeans(n_clusters=5, n_init=1, random_state=1, device="cpu").fit(X)
    saved = np.load(tmp_path / "mb.npz")  # np.savez's name: .npz added
    np.testing.assert_array_equal(saved["labels"], ref.labels_)
    np.testing.assert_allclose(saved["centers"], ref.cluster_centers_, rtol=1e-6, atol=1e-6)
    assert out.startswith("MiniBatchKMeans: 3,000 rows x 4 features, k=5")
    assert f"{ref.n_steps_:,} mini-batch steps" in out
    # the bar: redrawn on one line with \r, ended by a newline, at the last step reached
    total = 100 * 3000 // 1024
    assert err.endswith("\n") and "\r[" in err
    assert f"step {ref.n_steps_}/{total} " in err.rsplit("\r", 1)[-1]
    assert "Traceback" not in err


def test_progress_bar_counts_runs_and_stays_quiet_when_disabled():
    import io

    from fastseq.cli._kmeans import ProgressBar
    stream = io.StringIO()
    bar = ProgressBar(10, True, unit="iter", runs=2, stream=stream)
    for run_length in (4, 3):
        for i in range(1, run_length + 1):
            bar(i, 100.0 / i)
    bar.close()
    last = stream.getvalue().rsplit("\r", 1)[-1]
    assert last.startswith("[#########") and "run 2/2 iter 3/10 inertia 33.3333" in last
    assert last.endswith("\n")
    quiet = io.StringIO()
    bar = ProgressBar(10, False, stream=quiet)
    bar(1, 1.0)
    bar.close()
    assert quiet.getvalue() == ""
    # a terminal bar waits for `delay` seconds: a short fit prints nothing at all
    late = io.StringIO()
    bar = ProgressBar(10, True, delay=60.0, stream=late)
    bar(1, 1.0)
    bar.close()
    assert late.getvalue() == ""


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


NAN_X = np.ones((20, 3), dtype=np.float32)
NAN_X[7, 1] = np.nan


@pytest.mark.parametrize("name, content, k, fragments", [
    ("missing.npy", None, 2, ["no such file", "missing.npy"]),
    ("data.parquet", "PAR1", 2, ["expected a .npy or .csv file"]),
    ("garbage.npy", "hello, not numpy", 2, ["not a NumPy .npy file"]),
    ("objects.npy", np.array([{"a": 1}], dtype=object), 1, ["cannot read"]),
    ("strings.npy", np.array([["a", "b"]]), 1, ["expected numbers"]),
    ("cube.npy", np.zeros((2, 3, 4), dtype=np.float32), 1, ["2-D", "(2, 3, 4)"]),
    ("empty.npy", np.zeros((0, 3), dtype=np.float32), 1, ["no data"]),
    ("words.csv", "a,b\nx,y\n", 1, ["cannot parse", "numeric CSV"]),
    ("ragged.csv", "1,2\n3\n", 1, ["cannot parse"]),
    ("empty.csv", "", 1, ["no numeric rows"]),
    ("small.npy", np.ones((4, 2), dtype=np.float32), 5, ["-k", "k <= 4", "got 5"]),
    ("small.csv", "x,y\n1,2\n3,4\n5,6\n", 4, ["-k", "k <= 3", "got 4"]),
    ("nan.npy", NAN_X, 2, ["NaN"]),
    ("nan.csv", "1,2\n3,nan\n5,6\n", 2, ["NaN"]),
    ("inf.csv", "1,2\ninf,4\n5,6\n", 2, ["inf"]),
])
def test_kmeans_bad_input_is_one_line(capsys, tmp_path, name, content, k, fragments):
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    rc, out, err = run_cli(capsys, "kmeans", path, "-k", k, "--device", "cpu")
    assert_one_line_error(rc, out, err, "kmeans", *fragments)
    assert out == ""  # nothing was fitted or printed


def test_kmeans_unwritable_output_fails_before_fitting(capsys, tmp_path):
    path = _write(tmp_path, "x.npy", _blobs(n=50))
    rc, out, err = run_cli(capsys, "kmeans", path, "-k", 2, "-o", tmp_path / "no" / "dir.npz")
    assert_one_line_error(rc, out, err, "kmeans", "-o", "no such directory")
    assert out == ""


def _gpu_usable():
    from fastseq._backend import gpu_status
    return gpu_status().available


@pytest.mark.skipif(_gpu_usable(), reason="a usable CUDA device is present")
@pytest.mark.parametrize("command", ["kmeans", "compare"])
def test_cuda_without_a_gpu_is_one_line(capsys, tmp_path, command):
    if command == "kmeans":
        argv = ["kmeans", _write(tmp_path, "x.npy", _blobs(n=50)), "-k", 2]
    else:
        argv = ["compare", "--batch", 1, "--time", 4, "--features", 2, "--hidden", 3]
    rc, out, err = run_cli(capsys, *argv, "--device", "cuda")
    assert_one_line_error(rc, out, err, command, "device='cuda' needs a usable CUDA device")


def test_kmeans_warning_is_one_line(capsys, tmp_path):
    path = _write(tmp_path, "dup.npy", np.repeat(np.eye(2, dtype=np.float32), 10, axis=0))
    rc, out, err = run_cli(capsys, "kmeans", path, "-k", 3, "--device", "cpu")
    assert rc == 0
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith("fastseq: warning: Number of distinct clusters (2)")


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["kmeans", "x.npy", "-k", "0"])
    assert info.value.code == 2
    assert "expected an integer >= 1, got 0" in capsys.readouterr().err


# ---- demo ---------------------------------------------------------------------------------

@needs_rnn
@pytest.mark.demo
def test_demo_prints_the_table(capsys):
    """The README's main job, run once as a user runs it (about 15 s with warm caches)."""
    rc, out, err = run_cli(capsys, "demo", "--device", "cpu")
    assert rc == 0, err
    assert out.startswith("devices: cpu")
    rows = parse_table(out, "what ran")
    tasks = [r["what ran"] for r in rows]
    assert tasks == ["KMeans fit (k-means++)", "MiniBatchKMeans fit", "LSTM layer", "GRU layer"]
    for row in rows:
        assert row["device"] == "cpu"
        assert float(row["fastseq"].removesuffix(" ms")) > 0
    have_sklearn = _importable("sklearn")
    have_torch = _importable("torch")
    for row in rows[:2]:
        if have_sklearn:
            assert row["peer"] == "scikit-learn"
            ratio = float(row["agreement"].removeprefix("inertia ratio "))
            assert 0.98 < ratio < 1.02, row
        else:
            assert row["peer"] == "scikit-learn (not installed)" and row["agreement"] == "n/a"
    for row in rows[2:]:
        if have_torch:
            assert row["peer"] == "torch" and float(row["peer time"].removesuffix(" ms")) > 0
            assert float(row["agreement"].removeprefix("max error ")) < 1e-5, row
        else:
            assert row["peer"] == "torch (not installed)"
    assert re.search(r"^total \d+\.\d s", out, re.M)


def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# ---- README -------------------------------------------------------------------------------

def test_readme_commands():
    """The README's two commands: the main job is the demo, the test command is .ci/run's."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert blocks[0].strip() == 'python3 -m pip install -e ".[demo]" && fastseq demo'
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read().strip().splitlines()
    assert blocks[1].strip() == ci[-1].strip()
    assert cli.build_parser().parse_args(["demo"]).func is not None


def test_kmeans_unwritable_output_fails_before_fitting(capsys, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).standard_normal((20, 2)))
    target = "/proc/fastseq-cannot-write-here.npz"
    rc, out, err = run_cli(capsys, "kmeans", path, "-k", 2, "-o", target)
    assert_one_line_error(rc, out, err, "kmeans", "-o", "cannot write")
