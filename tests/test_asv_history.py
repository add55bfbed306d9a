"""The tracked benchmark history: machine names per CPU kind, and the regression rule of
``python -m asv_bench.regress`` applied to recorded results with a slowdown put in."""

import copy
import json
import os
import shutil

import pytest

from asv_bench.machine import machine_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "asv_results")
LLOYD = "bench_kmeans.LloydIterations.time_ten_iterations"


@pytest.mark.parametrize("model, flags, cores, want", [
    ("Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz", {"avx2", "avx512f"}, 16,
     "intel-xeon-platinum-8480-avx512-16c"),
    ("AMD EPYC 7B13 64-Core Processor", {"avx2"}, 8, "amd-epyc-7b13-avx2-8c"),
])
def test_machine_name_says_model_isa_and_cores(model, flags, cores, want):
    assert machine_name(model, flags, cores) == want


def test_this_machine_has_a_name_ending_in_its_core_count():
    name = machine_name()
    assert name.endswith(f"-{os.cpu_count()}c") and name == name.lower() and " " not in name


def _recorded():
    """(machine, [result file paths]) of the first machine folder holding a Lloyd timing."""
    for machine in sorted(os.listdir(RESULTS)):
        folder = os.path.join(RESULTS, machine)
        if not os.path.isdir(folder):
            continue
        files = [os.path.join(folder, f) for f in sorted(os.listdir(folder))
                 if f.endswith(".json") and f != "machine.json"]
        files = [f for f in files if LLOYD in json.load(open(f))["results"]]
        if len(files) >= 2:
            return machine, files
    pytest.fail(f"asv_results/ holds no machine with two recorded commits of {LLOYD}")


def _scratch(tmp_path, machine, before_path, after_path, scale):
    """A results folder with ``before`` as recorded and ``after`` = before's Lloyd times x scale,
    filed under after_path's commit. Returns (config, before hash, after hash)."""
    pytest.importorskip("asv", reason="needs asv: pip install -e '.[bench]'")
    from asv_bench.regress import _config_with_results
    scratch = tmp_path / "results"
    (scratch / machine).mkdir(parents=True)
    shutil.copy(os.path.join(RESULTS, "benchmarks.json"), scratch)
    shutil.copy(os.path.join(RESULTS, machine, "machine.json"), scratch / machine)
    before = json.load(open(before_path))
    after_hash = json.load(open(after_path))["commit_hash"]
    after = copy.deepcopy(before) | {"commit_hash": after_hash}
    column = before["result_columns"].index("result")
    row = after["results"][LLOYD]
    row[column] = [None if v is None else v * scale for v in row[column]]
    shutil.copy(before_path, scratch / machine)
    env = os.path.basename(before_path).split("-", 1)[1]
    with open(scratch / machine / f"{after_hash[:8]}-{env}", "w") as f:
        json.dump(after, f)
    config = _config_with_results(os.path.join(ROOT, "asv.conf.json"), str(scratch), str(tmp_path))
    return config, before["commit_hash"], after_hash


@pytest.mark.parametrize("scale, factor, worse", [(2.0, 1.25, True), (1.1, 1.25, False),
                                                  (1.0, 1.25, False), (2.0, 3.0, False)])
def test_regression_rule_flags_only_a_slowdown_beyond_the_factor(tmp_path, scale, factor, worse):
    from asv_bench.regress import compare
    machine, files = _recorded()
    config, before, after = _scratch(tmp_path, machine, files[0], files[1], scale)
    assert compare(config, before, after, machine, factor) is worse


def test_last_recorded_is_the_newest_commit(tmp_path):
    from asv_bench.regress import last_recorded
    machine, files = _recorded()
    newest = max(json.load(open(f))["date"] for f in files)
    assert last_recorded(RESULTS, machine)["date"] >= newest
