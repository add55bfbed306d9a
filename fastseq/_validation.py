"""Input checks shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` with a message naming the argument, what was
expected and what was given. Inputs are never modified: a conversion returns a new array.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._backend import is_cupy_array


def _xp_of(a):
    if is_cupy_array(a):
        import cupy
        return cupy
    return np


def float_dtype_for(dtype) -> np.dtype:
    """float32 stays float32, float64 stays float64, anything else real becomes float64."""
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    raise TypeError(f"expected a real numeric dtype, got {dtype}")


def check_array(x, name: str, *, ndim: int | tuple = 2, dtype=None, allow_empty: bool = False,
                finite: bool = True, contiguous: bool = True, copy: bool = False):
    """Validate and convert one array argument.

    Parameters
    ----------
    x : array-like (NumPy, CuPy, or anything ``np.asarray`` accepts)
    name : the argument's name, used in error messages.
    ndim : required number of dimensions (an int or a tuple of allowed ones).
    dtype : the dtype to convert to; None applies :func:`float_dtype_for`.
    allow_empty : accept arrays with a zero-length axis.
    finite : reject NaN and Inf.
    contiguous : return a C-contiguous array (a copy only when ``x`` is not one already).
    copy : always return a new array.

    Returns
    -------
    A NumPy or CuPy array (same library as ``x``) of the checked dtype.
    """
    if is_sparse(x):
        raise TypeError(f"{name}: expected a dense array, got a scipy sparse "
                        f"{type(x).__name__}; this function takes dense input only (convert it "
                        "with .toarray(); KMeans, MiniBatchKMeans, kmeans_plusplus and "
                        "nearest_centers take CSR/CSC input)")
    xp = _xp_of(x)
    if xp is np and not isinstance(x, np.ndarray):
        if x is None:
            raise TypeError(f"{name}: expected an array, got None")
        try:
            x = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name}: expected an array-like of numbers, got {type(x).__name__}"
                            f" ({exc})") from None
    if x.dtype.kind == "c":
        raise ValueError(f"{name}: expected real numbers, got dtype {x.dtype} (Complex data not "
                         "supported)")
    if x.dtype.kind == "O":  # numbers stored as Python objects: convert, or say what is there
        try:
            x = x.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected an array of numbers, got dtype object holding "
                            f"non-numbers ({exc})") from None
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {x.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        hint = ""
        if x.ndim == 1 and 2 in allowed:
            hint = (" (Reshape your data with X.reshape(-1, 1) if it has a single feature or "
                    "X.reshape(1, -1) if it is a single sample)")
        raise ValueError(f"{name}: expected a {want} array, got a {x.ndim}-D array of shape "
                         f"{x.shape}{hint}")
    if not allow_empty and x.size == 0:
        detail = ""
        if x.ndim == 2 and x.shape[0] == 0:
            detail = f": found array with 0 sample(s) (shape={x.shape}) while a minimum of 1 is required."
        elif x.ndim == 2:
            detail = (f": found array with 0 feature(s) (shape={x.shape}) while a minimum of 1 "
                      "is required.")
        raise ValueError(f"{name}: expected a non-empty array, got shape {x.shape}{detail}")
    target = float_dtype_for(x.dtype) if dtype is None else np.dtype(dtype)
    if copy:
        x = xp.array(x, dtype=target, order="C" if contiguous else "K", copy=True)
    else:
        x = x.astype(target, copy=False)
        if contiguous:
            x = xp.ascontiguousarray(x)
    if finite and x.dtype.kind == "f":
        check_finite(x, name)
    return x


def is_sparse(x) -> bool:
    """True for a scipy sparse matrix or array (scipy is not imported for dense input)."""
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def check_sparse(x, name: str, *, dtype=None, allow_empty: bool = False):
    """A scipy sparse matrix/array (CSR, CSC, COO, ...) as a new canonical CSR matrix.

    float32 stays float32, other reals become float64 (or ``dtype``); duplicate entries are summed
    and indices sorted in the copy, so the input is never modified. NaN / inf are rejected."""
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D sparse matrix, got {x.ndim}-D of shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric sparse matrix, got dtype {x.dtype}")
    if not allow_empty and (x.shape[0] == 0 or x.shape[1] == 0):
        raise ValueError(f"{name}: expected a non-empty matrix, got shape {x.shape}")
    import scipy.sparse
    target = float_dtype_for(x.dtype) if dtype is None else np.dtype(dtype)
    X = scipy.sparse.csr_matrix(x, dtype=target, copy=True)
    X.sum_duplicates()
    X.sort_indices()
    check_finite(X.data, f"{name} (its stored values)")
    return X


def check_finite(x, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or Inf.

    The sum is checked first (one cheap pass, NaN and Inf propagate into it); only when it is not
    finite, which a huge but finite array can also cause by overflow, is every element checked.
    """
    xp = _xp_of(x)
    if x.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = x.sum()
    if bool(xp.isfinite(total)):
        return
    bad = ~xp.isfinite(x)
    n_bad = int(bad.sum())
    if n_bad:
        kinds = []
        if bool(xp.isnan(x).any()):
            kinds.append("NaN")
        if bool(xp.isinf(x).any()):
            kinds.append("Inf")
        raise ValueError(f"{name}: expected finite values (no NaN or inf), got {n_bad} "
                         f"{'/'.join(kinds)} value(s) in an array of shape {x.shape}")


def check_n_features(x, n_features: int, name: str, reference: str) -> None:
    """Raise if ``x.shape[1]`` differs from ``n_features`` (the count of ``reference``)."""
    if x.shape[1] != n_features:
        raise ValueError(f"{name}: expected {n_features} features (as {reference}), "
                         f"got {x.shape[1]} (shape {x.shape})")


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Validate an integer parameter within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {value}")
    return value


def check_float(value, name: str, *, minimum: float | None = None, maximum: float | None = None,
                min_inclusive: bool = True) -> float:
    """Validate a real-number parameter."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if minimum is not None and (value < minimum or (not min_inclusive and value == minimum)):
        op = ">=" if min_inclusive else ">"
        raise ValueError(f"{name}: expected a number {op} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected a number <= {maximum}, got {value}")
    return value


def check_sample_weight(sample_weight, n_samples: int, dtype, *, xp=np):
    """Validate ``sample_weight``: None gives ones; otherwise a finite, non-negative (n_samples,)
    vector with a positive sum, converted to ``dtype`` on the array library ``xp``."""
    if sample_weight is None:
        return xp.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        w = check_float(sample_weight, "sample_weight", minimum=0.0, min_inclusive=False)
        return xp.full(n_samples, w, dtype=dtype)
    from ._backend import unwrap
    sample_weight, _ = unwrap(sample_weight)  # a torch tensor (requires_grad too) as an array
    w = check_array(sample_weight, "sample_weight", ndim=1, dtype=dtype)
    if xp is not np and not is_cupy_array(w):
        w = xp.asarray(w)
    if w.shape[0] != n_samples:
        raise ValueError(f"sample_weight: expected shape ({n_samples},) to match X, "
                         f"got shape {w.shape}")
    if bool((w < 0).any()):
        raise ValueError(f"sample_weight: expected non-negative weights, got {int((w < 0).sum())} "
                         f"negative value(s) (min {float(w.min())})")
    if not float(w.sum()) > 0:
        raise ValueError("sample_weight: expected a positive total weight, got all zeros")
    return w


def check_random_state(seed) -> np.random.RandomState:
    """The package's one ``random_state`` policy: scikit-learn's, plus NumPy Generators.

    None -> NumPy's global RandomState; an int -> a new ``RandomState(seed)``; a RandomState ->
    itself; a ``np.random.Generator`` -> a RandomState drawing from the Generator's own bit
    generator (so the caller's stream advances, as it does for a RandomState). Every consumer
    therefore sees one API (``choice``, ``randint``, ``uniform``, ``permutation``, ...).
    """
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.RandomState(seed.bit_generator)
    # ValueError, as scikit-learn's check_random_state raises for the same mistake
    raise ValueError(f"random_state: expected None, an int, a numpy RandomState or Generator, "
                     f"got {type(seed).__name__} {seed!r}")


def draw_seed(random_state: np.random.RandomState) -> int:
    """One integer seed in [0, 2**31 - 1) drawn from a :func:`check_random_state` result."""
    return int(random_state.randint(0, 2**31 - 1))


def check_working_memory(working_memory) -> float | None:
    """Validate ``working_memory`` (MiB of scratch space); None means the package default."""
    if working_memory is None:
        return None
    return check_float(working_memory, "working_memory", minimum=0.0, min_inclusive=False)
