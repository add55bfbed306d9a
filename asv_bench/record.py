"""Record benchmark results into the tracked history (``asv_results/``), one commit at a time.

    python -m asv_bench.record --first-parent --key --quick main~11..main   # the backfill
    python -m asv_bench.record --key HEAD       # a commit that just landed (or --bench REGEX)

Each commit's source is exported with ``git archive`` into a temporary folder and put first on
PYTHONPATH, then ``asv run --python=same --set-commit-hash`` times it with the *current* benchmark
suite, as ``asv run`` over a range does, but in this Python environment instead of a fresh
virtualenv per commit (no wheel build, no torch download; the dependencies are the ones installed
here, so the history shows fastseq's changes and not the peers' upgrades). Results are filed under
this computer's machine name (:mod:`asv_bench.machine`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile

from .machine import machine_name, register

# the benchmarks recorded for every commit and checked by asv_bench.regress (`--bench` regexes,
# matched against "name(param, ...)"): fastseq and its peers on the CPU, and the quality tracks
KEY_BENCHMARKS = [
    r"LloydIterations.*'cpu'",
    r"bench_kmeans\.Quality",
    r"NearestCenters.*'cpu'",
    r"Layers\.time_layer\('(LSTM|GRU|RNN)', '32x64x128', '(fastseq|torch)', 'cpu'\)",
    r"bench_rnn\.Accuracy\.track_max_error\(",
]


def commits(spec: str, first_parent: bool = False) -> list[str]:
    """Full hashes of ``spec`` (a commit or a git range), oldest first; with ``first_parent``
    only the commits that landed on the range's branch (merges, not the merged branches' own)."""
    if ".." in spec:
        extra = ["--first-parent"] if first_parent else []
        out = subprocess.run(["git", "rev-list", "--reverse", *extra, spec], check=True,
                             capture_output=True, text=True).stdout
    else:
        out = subprocess.run(["git", "rev-parse", "--verify", spec + "^{commit}"], check=True,
                             capture_output=True, text=True).stdout
    return out.split()


def export(commit: str, directory: str) -> None:
    """Write the tree of ``commit`` into ``directory`` (touches no worktree or ref)."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], check=True,
                             capture_output=True).stdout
    path = os.path.join(directory, "tree.tar")
    with open(path, "wb") as f:
        f.write(archive)
    with tarfile.open(path) as tar:
        tar.extractall(directory, filter="data")
    os.remove(path)


def asv_run(commit: str, source: str | None, asv_args: list[str], machine: str) -> int:
    """``asv run --python=same`` filing results under ``commit``, fastseq imported from ``source``
    (the working tree when None)."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "asv", "run", "--python=same", "--machine", machine,
           "--set-commit-hash", commit, *asv_args]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=env).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="other arguments go to `asv run` (--quick, --bench ...)")
    parser.add_argument("range", help="a commit or a git range (A..B)")
    parser.add_argument("--key", action="store_true",
                        help="only the key benchmarks (KEY_BENCHMARKS), as the history holds")
    parser.add_argument("--first-parent", action="store_true",
                        help="in a range, only the commits that landed on its branch")
    args, asv_args = parser.parse_known_args(argv)
    if args.key:
        asv_args += [b for regex in KEY_BENCHMARKS for b in ("--bench", regex)]
    machine = machine_name()
    register(machine)
    failed = []
    for commit in commits(args.range, args.first_parent):
        with tempfile.TemporaryDirectory(prefix="fastseq-record-") as tree:
            export(commit, tree)
            if asv_run(commit, tree, asv_args, machine) != 0:
                failed.append(commit)
    if failed:
        raise SystemExit(f"asv run failed for {', '.join(c[:10] for c in failed)}")


if __name__ == "__main__":
    main()
