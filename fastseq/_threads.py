"""CPU threading: how many Numba workers to use, and BLAS held to one thread inside them.

Numba's parallel regions call BLAS (np.dot in a prange body) once per chunk; if BLAS also spawns
its own threads the two pools fight over the cores (a 50 ms job measured 1.6 s; see
docs/architecture.md, "Threads"). So every parallel kernel that calls BLAS runs inside
:func:`single_threaded_blas`.
"""

from __future__ import annotations

import contextlib
import functools
import threading

import numba


def n_workers() -> int:
    """Number of Numba worker slices (the current Numba thread count)."""
    return max(1, numba.get_num_threads())


@functools.lru_cache(maxsize=1)
def _controller():
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS Numba's np.dot calls: load it first)
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


class _BlasLimit:
    """Shared state of :func:`single_threaded_blas` (re-entrant across nesting and threads)."""

    lock = threading.Lock()
    depth = 0
    saved = ()


@contextlib.contextmanager
def single_threaded_blas():
    """Hold every loaded BLAS library to one thread for the duration of the block.

    Re-entrant: nested blocks, or blocks of concurrent calls, share one limit, lifted when the
    last one exits. It talks to the library controllers directly (a few microseconds, not the
    tens that ``threadpoolctl.limit`` costs), since every layer call and mini-batch step enters it.
    """
    with _BlasLimit.lock:
        if _BlasLimit.depth == 0:
            libs = [lc for lc in _controller().lib_controllers if lc.user_api == "blas"]
            _BlasLimit.saved = [(lc, lc.get_num_threads()) for lc in libs]
            for lc in libs:
                lc.set_num_threads(1)
        _BlasLimit.depth += 1
    try:
        yield
    finally:
        with _BlasLimit.lock:
            _BlasLimit.depth -= 1
            if _BlasLimit.depth == 0:
                for lc, n in _BlasLimit.saved:
                    lc.set_num_threads(n)
                _BlasLimit.saved = ()
