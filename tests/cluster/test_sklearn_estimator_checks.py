"""scikit-learn's estimator checks: fastseq's estimators pass every check that scikit-learn's own
KMeans passes (run on both, compared check by check). scikit-learn's MiniBatchKMeans passes the
same checks as its KMeans (1.9.1) but takes about a minute, so KMeans is the reference for both."""

import warnings

import pytest

import fastseq

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402


def _results(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = check_estimator(estimator, on_fail=None, on_skip=None)
    return {r["check_name"]: (r["status"], r["exception"]) for r in out}


@pytest.mark.parametrize("name", ["KMeans", "MiniBatchKMeans"])
def test_passes_every_check_sklearn_passes(name):
    from sklearn.cluster import KMeans
    theirs = _results(KMeans(n_clusters=3))
    ours = _results(getattr(fastseq, name)(n_clusters=3))
    failing = {check: repr(exc)[:300] for check, (status, exc) in ours.items()
               if status == "failed" and theirs.get(check, ("",))[0] == "passed"}
    assert not failing
    assert sum(status == "passed" for status, _ in ours.values()) >= 40
