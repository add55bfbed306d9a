"""Run scikit-learn's own K-means tests against fastseq.

Copies the installed ``sklearn/cluster/tests/test_k_means.py`` into a temporary directory (it is
scikit-learn's code: it never enters this repository), points its import of ``KMeans``,
``MiniBatchKMeans``, ``k_means`` and ``kmeans_plusplus`` at fastseq, sets aside the tests that call
scikit-learn's private Cython helpers (they test scikit-learn, not the estimators), and runs the
rest with scikit-learn's own conftest (its ``global_random_seed`` fixture).

    PYTHONPATH=. python3 tools/sklearn_suite.py            # summary line and the failures
    PYTHONPATH=. python3 tools/sklearn_suite.py --sklearn  # the same tests on scikit-learn itself
    PYTHONPATH=. python3 tools/sklearn_suite.py -- -x -k sparse   # extra pytest arguments
"""

from __future__ import annotations

import argparse
import ast
import os
import pathlib
import subprocess
import sys
import tempfile

ORIGINAL_IMPORT = "from sklearn.cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus"
FASTSEQ_IMPORT = "from fastseq import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus"
# scikit-learn internals whose tests exercise scikit-learn's Cython, not the estimator surface
PRIVATE_HELPERS = {
    "_euclidean_dense_dense_wrapper", "_euclidean_sparse_dense_wrapper", "_inertia_dense",
    "_inertia_sparse", "_relocate_empty_clusters_dense", "_relocate_empty_clusters_sparse",
    "_labels_inertia", "_mini_batch_step",
}


def installed_suite() -> pathlib.Path:
    import sklearn
    return pathlib.Path(sklearn.__file__).parent / "cluster" / "tests" / "test_k_means.py"


def tests_using_private_helpers(source: str) -> list[str]:
    """Names of the top-level test functions whose body names one of PRIVATE_HELPERS."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            if used & PRIVATE_HELPERS:
                names.append(node.name)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn", action="store_true",
                        help="run the same selection on scikit-learn itself (the baseline)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    source = installed_suite().read_text()
    if ORIGINAL_IMPORT not in source:
        print(f"the installed suite has no line {ORIGINAL_IMPORT!r}; scikit-learn changed it",
              file=sys.stderr)
        return 2
    if not args.sklearn:
        source = source.replace(ORIGINAL_IMPORT, FASTSEQ_IMPORT)
    set_aside = tests_using_private_helpers(source)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "test_k_means_sklearn.py"
        path.write_text(source)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "sklearn.conftest", "-rf",
                   "--no-header", "-p", "no:cacheprovider", "-W", "ignore", str(path)]
        command += [f"--deselect={path}::{name}" for name in set_aside]
        command += args.pytest_args
        print(f"set aside ({len(set_aside)} tests call scikit-learn's private helpers): "
              + ", ".join(set_aside), flush=True)
        env = dict(os.environ)
        repo = str(pathlib.Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
        return subprocess.call(command, cwd=tmp, env=env)


if __name__ == "__main__":
    sys.exit(main())
