"""CPU threading: how many Numba workers to use, and BLAS held to one thread inside them.

Numba's parallel regions call BLAS (np.dot in a prange body) once per chunk; if BLAS also spawns
its own threads the two pools fight over the cores (a 50 ms job measured 1.6 s; see
docs/architecture.md, "Threads"). So every parallel kernel that calls BLAS runs inside
:func:`single_threaded_blas`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading

import numba

# Threading layers in the order fastseq asks Numba to try them when the user chose none. Numba's
# own order puts GNU OpenMP before the workqueue when TBB is missing, and a process that forks
# after GNU OpenMP ran is killed in the child ("fork() called from a process already using GNU
# OpenMP") at its first parallel region: torch's DataLoader workers and multiprocessing on Linux
# fork by default. TBB and the workqueue both survive fork.
FORK_SAFE_LAYER_PRIORITY = ["tbb", "workqueue", "omp"]


def prefer_fork_safe_layer() -> bool:
    """Make Numba pick a fork-safe threading layer, unless the user or an earlier parallel call
    already decided. Returns True when the priority was changed.

    Respected: NUMBA_THREADING_LAYER / NUMBA_THREADING_LAYER_PRIORITY in the environment, a
    layer set on ``numba.config``, and a threading layer already launched in this process."""
    if "NUMBA_THREADING_LAYER" in os.environ or "NUMBA_THREADING_LAYER_PRIORITY" in os.environ:
        return False
    if str(numba.config.THREADING_LAYER).lower() != "default":
        return False
    from numba.np.ufunc import parallel
    if getattr(parallel, "_is_initialized", False):
        return False
    numba.config.THREADING_LAYER_PRIORITY = list(FORK_SAFE_LAYER_PRIORITY)
    return True


prefer_fork_safe_layer()


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


_WORKQUEUE_LOCK = threading.RLock()


@functools.lru_cache(maxsize=1)
def _needs_serial_calls() -> bool:
    """True when Numba runs the workqueue layer, which aborts the process if two Python threads
    enter parallel regions at once (TBB and OpenMP take concurrent calls)."""
    from numba.np.ufunc import parallel
    parallel._launch_threads()
    return numba.threading_layer() == "workqueue"


@contextlib.contextmanager
def parallel_calls():
    """Enter around every call of a ``parallel=True`` kernel from Python: under the workqueue
    layer it lets one thread at a time in (re-entrant), elsewhere it does nothing."""
    if not _needs_serial_calls():
        yield
        return
    with _WORKQUEUE_LOCK:
        yield


@contextlib.contextmanager
def single_threaded_blas():
    """Hold every loaded BLAS library to one thread for the duration of the block.

    Re-entrant: nested blocks, or blocks of concurrent calls, share one limit, lifted when the
    last one exits. It talks to the library controllers directly (a few microseconds, not the
    tens that ``threadpoolctl.limit`` costs), since every layer call and mini-batch step enters it.
    """
    with parallel_calls(), _blas_limited():
        yield


@contextlib.contextmanager
def _blas_limited():
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
