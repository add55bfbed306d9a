"""Base classes that make fastseq's estimators scikit-learn estimators when scikit-learn is there.

With scikit-learn installed, the estimators inherit its ``BaseEstimator`` and mixins, so
``clone``, ``Pipeline``, ``GridSearchCV``, ``repr`` and the estimator checks work as for its own
estimators. Without it, a small stand-in provides ``get_params`` / ``set_params`` with the same
semantics (parameters are the constructor's keyword arguments, stored unchanged), so scikit-learn
never becomes a runtime dependency.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only where scikit-learn is absent
    HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):
        """Raised when a method needs a fitted estimator (as scikit-learn's)."""

    class ConvergenceWarning(UserWarning):
        """Warned on degenerate fits (as scikit-learn's)."""

    class BaseEstimator:
        """get_params / set_params from the constructor's signature, as scikit-learn defines them."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"Invalid parameter {name!r} for estimator "
                                     f"{type(self).__name__}; valid parameters: {valid}")
                setattr(self, name, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class ClusterMixin:
        def fit_predict(self, X, y=None, **kwargs):
            self.fit(X, **kwargs)
            return self.labels_

    class TransformerMixin:
        def fit_transform(self, X, y=None, **kwargs):
            return self.fit(X, y, **kwargs).transform(X)



def input_feature_names(X):
    """The column names of a DataFrame-like X as an object array, or None.

    As scikit-learn: names count only when every column name is a string; mixed string and
    non-string names are an error (they cannot be checked at predict)."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "shape") or len(getattr(X, "shape", ())) != 2:
        return None
    names = np.asarray(list(columns), dtype=object)
    kinds = {isinstance(name, str) for name in names}
    if kinds == {True}:
        return names
    if kinds == {True, False}:
        types = sorted({type(name).__name__ for name in names})
        raise TypeError(f"X: expected column names that are all strings, got a mix of types "
                        f"{types}; Feature names are only supported if all input features have "
                        "string names. Convert them with X.columns = X.columns.astype(str)")
    return None


def check_feature_names(estimator, X, *, reset):
    """Record (``reset``) or check the column names of X against ``feature_names_in_``.

    As scikit-learn: names that differ from fit's raise ValueError; names present on one side
    only warn (UserWarning), since positional columns still line up."""
    names = input_feature_names(X)
    kind = type(estimator).__name__
    if reset:
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None and names is None:
        return
    if names is None:
        warnings.warn(f"X does not have valid feature names, but {kind} was fitted with feature "
                      "names", UserWarning, stacklevel=4)
        return
    if fitted is None:
        warnings.warn(f"X has feature names, but {kind} was fitted without feature names",
                      UserWarning, stacklevel=4)
        return
    if len(fitted) != len(names) or np.any(fitted != names):
        unseen = [n for n in names if n not in set(fitted)]
        missing = [n for n in fitted if n not in set(names)]
        detail = ""
        if unseen:
            detail += f"\nFeature names unseen at fit time:\n- " + "\n- ".join(map(str, unseen[:5]))
        if missing:
            detail += f"\nFeature names seen at fit time, yet now missing:\n- " + \
                "\n- ".join(map(str, missing[:5]))
        if not detail:
            detail = "\nFeature names must be in the same order as they were in fit."
        raise ValueError("X: The feature names should match those that were passed during fit."
                         + detail)


__all__ = ["BaseEstimator", "ClusterMixin", "TransformerMixin", "ConvergenceWarning",
           "NotFittedError", "HAVE_SKLEARN", "check_feature_names", "input_feature_names"]
