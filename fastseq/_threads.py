"""CPU threading: how many Numba workers to use, and BLAS held to one thread inside them.

Numba's parallel regions call BLAS (np.dot in a prange body) once per chunk; if BLAS also spawns
its own threads the two pools fight over the cores (DESIGN.md measured 50 ms -> 1.6 s). So every
parallel kernel that calls BLAS runs inside :func:`single_threaded_blas`.
"""

from __future__ import annotations

import contextlib
import functools

import numba


def n_workers() -> int:
    """Number of Numba worker slices (the current Numba thread count)."""
    return max(1, numba.get_num_threads())


@functools.lru_cache(maxsize=1)
def _controller():
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS Numba's np.dot calls: load it first)
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas():
    """Limit every loaded BLAS library to one thread for the duration of the block."""
    ctl = _controller()
    with ctl.limit(limits=1, user_api="blas"):
        yield
