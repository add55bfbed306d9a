"""How ``fastseq compare`` times a call: the median of repeated calls after a warm-up."""

from __future__ import annotations

import time

import numpy as np


def median_seconds(fn, repeats, budget=3.0, per_call=1) -> float:
    """Median of up to ``repeats`` timed calls after one warm-up call (which compiles); stops
    early once the timed calls took ``budget`` seconds together (one call at the least). Each
    call does ``per_call`` units of work; the result is seconds per unit."""
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if sum(times) >= budget:
            break
    return float(np.median(times)) / per_call
