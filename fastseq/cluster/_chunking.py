"""Chunk planning for the clustering kernels: how many rows each chunk holds and how many
accumulator slots a pass uses, on the CPU and on the GPU.

Every kernel works on fixed chunks of rows so that its scratch (a product tile, per-cluster sums)
stays in cache or within the ``working_memory`` budget. Without a budget, CPU chunks and slots are
functions of the shape alone, never of the thread count, so results are bit-identical whatever
the number of threads. The sizes themselves are in ``fastseq/_defaults.py``.
"""

from __future__ import annotations

import numpy as np

from .._defaults import (CPU_MAX_ROWS, CPU_MIN_ROWS, CPU_TILE_BYTES, GPU_WORKING_MEMORY_MIB,
                         MAX_SLOTS, SILHOUETTE_CHUNK_ROWS, SILHOUETTE_COL_BLOCK,
                         SILHOUETTE_MIN_ROWS, SLOT_BYTES, STREAM_CHUNK_ROWS, SYMMETRIC_MAX_MIB)
from .._threads import n_workers
from ._cuda_launch import GRID_LIMITS, max_chunk_rows, silhouette_max_rows


def cpu_rows_per_chunk(k: int, itemsize: int, working_memory=None) -> int:
    """Rows per CPU nearest-center chunk: the (k, rows) tile fits in L2 (and in the budget when
    one is given).

    Without a budget this is independent of the thread count, so results do not depend on it.
    A ``working_memory`` budget is shared by the workers, so the chunk (and with it the order of
    the float64 sums) then depends on the thread count: reproducible for a fixed thread count.
    """
    rows = CPU_TILE_BYTES // max(1, k * itemsize)
    rows = 1 << max(0, int(rows).bit_length() - 1)  # a power of two
    rows = min(CPU_MAX_ROWS, max(CPU_MIN_ROWS, rows))
    if working_memory is not None:
        budget_rows = int(working_memory * 2**20) // max(1, k * itemsize * n_workers())
        rows = min(rows, max(1, budget_rows))
    return rows


def gpu_rows_per_chunk(k: int, d: int, itemsize: int, working_memory=None,
                       limits=GRID_LIMITS) -> int:
    """Rows per GPU chunk: the (rows, k) product tile plus the shifted rows fit in the budget,
    and every launch over the chunk fits the grid ``limits`` (``_cuda_launch``)."""
    budget = (GPU_WORKING_MEMORY_MIB if working_memory is None else working_memory) * 2**20
    return max(1, min(int(budget // ((k + d) * itemsize)), max_chunk_rows(k, d, limits)))


def lloyd_layout(n, k, d, itemsize, working_memory=None):
    """(rows per chunk, accumulator slots) of a CPU Lloyd pass over n rows and k centers in d
    features: chunks sized for the cache, slots fixed by the shape alone (never by the thread
    count) and their float64 (k, d) sums kept within SLOT_BYTES."""
    chunk = cpu_rows_per_chunk(k, itemsize, working_memory)
    n_chunks = (n + chunk - 1) // chunk
    return chunk, max(1, min(MAX_SLOTS, n_chunks, SLOT_BYTES // max(1, k * d * 8)))


def stream_layout(n):
    """(rows per chunk, slots) of a streaming CPU pass over n rows whose per-slot sums are small
    (column moments, k-means++ potentials)."""
    chunk = STREAM_CHUNK_ROWS
    return chunk, max(1, min(MAX_SLOTS, (n + chunk - 1) // chunk))


def silhouette_cpu_rows(k, working_memory=None):
    """Rows per chunk of the row-chunked CPU silhouette kernel: SILHOUETTE_CHUNK_ROWS, fewer when
    the per-worker scratch (the (k, rows) sums and the (SILHOUETTE_COL_BLOCK, rows) tile, float64)
    would exceed ``working_memory`` MiB."""
    rows = SILHOUETTE_CHUNK_ROWS
    if working_memory is not None:
        per_row = (k + SILHOUETTE_COL_BLOCK + 8) * 8 * n_workers()
        rows = min(rows, max(SILHOUETTE_MIN_ROWS, int(working_memory * 2**20) // per_row))
    return rows


def silhouette_gpu_rows(n, k, working_memory=None, limits=GRID_LIMITS):
    """Rows per GPU silhouette chunk: the (rows, n) float64 product tile and (rows, k) sums fit
    the budget, and the (row, cluster) grid fits the grid ``limits``."""
    budget = (GPU_WORKING_MEMORY_MIB if working_memory is None else working_memory) * 2**20
    return max(1, min(int(budget // ((n + k) * 8)), silhouette_max_rows(k, limits)))


def symmetric_plan(lab, k, rows, working_memory=None):
    """Buffers of the symmetric CPU silhouette kernel for sorted labels ``lab`` (n,) int64 in row
    blocks of ``rows``: (clo, nlab, cbase, colbuf size), or None when they would exceed the budget
    (``working_memory`` MiB, default SYMMETRIC_MAX_MIB): the (blocks, k, rows) sums and, per block I,
    the per-cluster sums of the later rows over I's rows (n - end_I rows by the clusters I spans).
    """
    n = lab.shape[0]
    starts = np.arange(0, n, rows)
    ends = np.minimum(starts + rows, n)
    clo = lab[starts].astype(np.int64)
    nlab = (lab[ends - 1] - clo + 1).astype(np.int64)
    per_block = (n - ends) * nlab
    cbase = np.zeros(starts.shape[0], dtype=np.int64)
    np.cumsum(per_block[:-1], out=cbase[1:])
    size = int(per_block.sum())
    budget = (SYMMETRIC_MAX_MIB if working_memory is None else working_memory) * 2**20
    if (size + starts.shape[0] * k * rows) * 8 > budget:
        return None
    return clo, nlab, cbase, size
