"""Turn asv results into the tables of BENCHMARKS.md and one PNG plot per topic.

    python -m asv_bench.report                   # newest results, markdown to stdout
    python -m asv_bench.report --plots docs/plots --commit <sha>

Each benchmark parameterised by ``implementation`` becomes a table whose columns are the
implementations side by side, with the peer/fastseq ratio (above 1: fastseq is faster, or for
``track_`` quality figures, the value itself). Results come from asv's own JSON files, so the
figures are exactly what ``asv run`` recorded.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import math
import os
from collections import defaultdict


def load_results(results_dir: str, commit: str | None):
    """Merge every result file of ``commit`` (newest commit when None) under ``results_dir``."""
    files = [p for p in glob.glob(os.path.join(results_dir, "*", "*.json"))
             if os.path.basename(p) != "machine.json"]
    if not files:
        raise SystemExit(f"no asv results under {results_dir}: run `asv run` first")
    runs = [json.load(open(p)) | {"_path": p} for p in files]
    if commit is None:
        commit = max(runs, key=lambda r: r["date"])["commit_hash"]
    runs = [r for r in runs if r["commit_hash"].startswith(commit)]
    if not runs:
        raise SystemExit(f"no asv results for commit {commit}")
    merged = {}
    for run in sorted(runs, key=lambda r: r["date"]):
        columns = run["result_columns"]
        for name, row in run["results"].items():
            merged[name] = dict(zip(columns, row))
    return runs[-1], merged


def _unquote(v: str) -> str:
    return v.strip("'\"")


def _fmt(value, kind):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "time":
        return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"
    if kind == "peakmem":
        return f"{value / 2**20:.0f} MiB"
    return f"{value:.4g}"


def tables(merged):
    """Yield (topic, title, header, rows, plot_data) per benchmark."""
    for name in sorted(merged):
        entry = merged[name]
        topic = name.split(".")[0].removeprefix("bench_")
        kind = name.split(".")[-1].split("_")[0]
        params = [[_unquote(v) for v in axis] for axis in entry["params"]]
        names = _param_names(name, len(params))
        results = entry["result"]
        grid = list(itertools.product(*params)) if params else [()]
        impl_axis = names.index("implementation") if "implementation" in names else None
        by_row = defaultdict(dict)
        for combo, value in zip(grid, results):
            key = tuple(v for i, v in enumerate(combo) if i != impl_axis)
            impl = combo[impl_axis] if impl_axis is not None else "fastseq"
            by_row[key][impl] = value
        impls = params[impl_axis] if impl_axis is not None else ["fastseq"]
        other = [n for i, n in enumerate(names) if i != impl_axis]
        header = other + impls
        peers = [i for i in impls if i != "fastseq"]
        if kind in ("time", "peakmem") and "fastseq" in impls:
            header += [f"{p}/fastseq" for p in peers]
        rows, plot = [], []
        for key, vals in by_row.items():
            if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals.values()):
                continue
            row = list(key) + [_fmt(vals.get(i), kind) for i in impls]
            if kind in ("time", "peakmem") and "fastseq" in impls:
                base = vals.get("fastseq")
                for p in peers:
                    v = vals.get(p)
                    ok = base and v and not math.isnan(base) and not math.isnan(v)
                    row.append(f"{v / base:.2f}x" if ok else "n/a")
            rows.append(row)
            plot.append((" ".join(key), vals))
        if rows:
            yield topic, name, header, rows, (kind, impls, plot)


def _param_names(name, n):
    """asv stores param values but not their names in results: read them from benchmarks.json."""
    return _NAMES.get(name) or [f"p{i}" for i in range(n)]


_NAMES: dict = {}


def _load_names(results_dir):
    path = os.path.join(results_dir, "benchmarks.json")
    if os.path.exists(path):
        for name, spec in json.load(open(path)).items():
            if isinstance(spec, dict) and "param_names" in spec:
                _NAMES[name] = spec["param_names"]


def markdown(run, merged) -> str:
    p = run["params"]
    out = [f"Commit {run['commit_hash'][:10]}, machine: {p.get('cpu')} x{p.get('num_cpu')}, "
           f"{int(p.get('ram', 0)) / 2**30:.0f} GiB, {p.get('os')}", ""]
    for topic, name, header, rows, _ in tables(merged):
        out += [f"#### {name}", "", "| " + " | ".join(header) + " |",
                "|" + "---|" * len(header)]
        out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


def plots(merged, directory):
    """One PNG per topic: time benchmarks as grouped horizontal bars, fastseq beside its peers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(directory, exist_ok=True)
    by_topic = defaultdict(list)
    for topic, name, _, _, (kind, impls, plot) in tables(merged):
        if kind == "time":
            for label, vals in plot:
                by_topic[topic].append((f"{name.split('.', 1)[1]} {label}".strip(), vals))
    written = []
    for topic, entries in by_topic.items():
        impls = sorted({i for _, vals in entries for i in vals}, key=lambda i: (i != "fastseq", i))
        fig, ax = plt.subplots(figsize=(10, max(3.0, 1.2 + 0.3 * len(entries) * len(impls))))
        height = 0.8 / len(impls)
        for j, impl in enumerate(impls):
            ys = [i + j * height for i in range(len(entries))]
            xs = [vals.get(impl) or float("nan") for _, vals in entries]
            ax.barh(ys, [x * 1e3 for x in xs], height=height, label=impl)
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(entries))])
        ax.set_yticklabels([label for label, _ in entries], fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("time (ms, log scale; shorter is faster)")
        ax.set_title(f"fastseq vs peers: {topic}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(directory, f"{topic}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="asv_results")
    parser.add_argument("--commit", default=None)
    parser.add_argument("--plots", default=None, help="directory for one PNG per topic")
    args = parser.parse_args(argv)
    _load_names(args.results)
    run, merged = load_results(args.results, args.commit)
    print(markdown(run, merged))
    if args.plots:
        for path in plots(merged, args.plots):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
