"""Base classes that make fastseq's estimators scikit-learn estimators when scikit-learn is there.

With scikit-learn installed, the estimators inherit its ``BaseEstimator`` and mixins, so
``clone``, ``Pipeline``, ``GridSearchCV``, ``repr`` and the estimator checks work as for its own
estimators. Without it, a small stand-in provides ``get_params`` / ``set_params`` with the same
semantics (parameters are the constructor's keyword arguments, stored unchanged), so scikit-learn
never becomes a runtime dependency.
"""

from __future__ import annotations

import inspect

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

__all__ = ["BaseEstimator", "ClusterMixin", "TransformerMixin", "ConvergenceWarning",
           "NotFittedError", "HAVE_SKLEARN"]
