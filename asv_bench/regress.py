"""Compare the working tree against the last commit recorded in asv_results/ for the key
benchmarks; exit 1 when one got slower (or less accurate) beyond the noise factor.

    python -m asv_bench.regress                  # key benchmarks, factor 1.25
    python -m asv_bench.regress --factor 1.5 --bench 'NearestCenters.*cpu' -a processes=1

Run it from the repository root (the working tree there is what gets timed).

The working tree (tracked and untracked files that git does not ignore) is filed as a commit
object that no branch points to, timed with ``asv run --python=same`` into a temporary copy of the
results (the tracked history is not touched), and compared with ``asv compare``'s own rule against
the newest recorded commit of this machine: a ratio beyond ``--factor``, and, where both sides have
samples, a statistically significant difference. Larger is worse for every benchmark of the suite
(times, peak memory, inertia ratio, max error). The default factor is loose because this machine
is shared; a quiet one can use 1.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile

from .machine import machine_name, register
from .record import KEY_BENCHMARKS, asv_run


def _git(*args, env=None) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def working_tree_commit() -> str:
    """A commit object holding the working tree as it is, parented on HEAD; no ref moves."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=os.path.join(tmp, "index"))
        _git("add", "-A", ".", env=env)
        tree = _git("write-tree", env=env)
    return _git("commit-tree", tree, "-p", "HEAD", "-m", "asv_bench.regress: working tree")


def last_recorded(results_dir: str, machine: str) -> dict:
    """The newest (by commit date) result file of ``machine``: its parsed JSON plus ``_path``."""
    folder = os.path.join(results_dir, machine)
    runs = []
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.endswith(".json") and name != "machine.json":
            path = os.path.join(folder, name)
            runs.append(json.load(open(path)) | {"_path": path})
    if not runs:
        raise SystemExit(f"no recorded results for machine {machine} under {results_dir}: "
                         "record some with python -m asv_bench.record")
    return max(runs, key=lambda r: r["date"])


def _config_with_results(config: str, results_dir: str, out: str) -> str:
    from asv import util
    conf = util.load_json(config, js_comments=True)
    root = os.path.dirname(os.path.abspath(config))
    conf.update(results_dir=results_dir, repo=root,
                benchmark_dir=os.path.join(root, conf.get("benchmark_dir", "benchmarks")),
                env_dir=os.path.join(root, conf.get("env_dir", "env")),
                html_dir=os.path.join(out, "html"))
    path = os.path.join(out, "asv.conf.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def compare(config: str, before: str, after: str, machine: str, factor: float) -> bool:
    """Print asv's comparison table; True when something worsened."""
    from asv.commands.compare import Compare
    from asv.config import Config
    conf = Config.load(config)
    worsened, _ = Compare.print_table(conf, before, after, factor=factor, split=False,
                                      use_stats=True, only_changed=False, sort="ratio",
                                      machine=machine, env_names=None,
                                      commit_names={before: before[:10], after: "working tree"})
    return worsened


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="other arguments go to `asv run` (-a repeat=5 ...)")
    parser.add_argument("--config", default="asv.conf.json")
    parser.add_argument("--factor", type=float, default=1.25,
                        help="slowdown ratio counted as a regression (default 1.25)")
    parser.add_argument("--bench", action="append", default=None,
                        help="benchmark regex (repeatable); the key benchmarks by default")
    parser.add_argument("--quick", action="store_true", help="one sample per benchmark")
    args, asv_args = parser.parse_known_args(argv)

    from asv.config import Config
    results_dir = Config.load(args.config).results_dir
    machine = machine_name()
    register(machine)
    last = last_recorded(results_dir, machine)
    before = last["commit_hash"]
    after = working_tree_commit()
    print(f"last recorded commit on {machine}: {before[:10]}; working tree as {after[:10]}")

    with tempfile.TemporaryDirectory(prefix="fastseq-regress-") as tmp:
        scratch = os.path.join(tmp, "results")
        os.makedirs(os.path.join(scratch, machine))
        for name in ("benchmarks.json",):
            shutil.copy(os.path.join(results_dir, name), scratch)
        for path in (last["_path"], os.path.join(results_dir, machine, "machine.json")):
            shutil.copy(path, os.path.join(scratch, machine))
        config = _config_with_results(args.config, scratch, tmp)
        benches = [b for regex in (args.bench or KEY_BENCHMARKS) for b in ("--bench", regex)]
        extra = ["--config", config, "--record-samples", *benches, *(["--quick"] * args.quick),
                 *asv_args]
        if asv_run(after, os.getcwd(), extra, machine) != 0:
            raise SystemExit("asv run failed on the working tree")
        worsened = compare(config, before, after, machine, args.factor)
    if worsened:
        raise SystemExit(f"slower than {before[:10]} beyond a factor {args.factor} (lines with +)")
    print(f"no regression beyond a factor {args.factor} against {before[:10]}")


if __name__ == "__main__":
    main()
