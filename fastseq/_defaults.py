"""Package-wide defaults: compiler flags, gate counts, chunk and slot sizes, memory budgets.

Every tunable number that more than one module needs is defined here, once. Module-local
algorithm thresholds (for example when pruning pays off) stay next to the code they steer.
"""

# Numba fastmath flags that keep NaN/Inf semantics: no "nnan" / "ninf", so a NaN that reaches a
# kernel still comes out as NaN instead of being optimised into a wrong finite number.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Gates per recurrent cell kind: the gate block of the weights is GATES[kind] * hidden_size rows.
GATES = {"lstm": 4, "gru": 3, "rnn": 1}

# -- clustering, CPU --------------------------------------------------------------------------
# Rows per chunk of the simple streaming CPU passes (moments, distances to one point, bounds).
STREAM_CHUNK_ROWS = 4096
# Chunks are grouped into at most this many float64 accumulator slots, a number fixed by the
# shape and never by the thread count, so that sums are bit-identical whatever the threads ...
MAX_SLOTS = 16
# ... and the slots' float64 (k, d) sums stay within this many bytes.
SLOT_BYTES = 64 * 2**20
# Nearest-center tiles: the (k, rows) product tile should stay in one core's L2 cache.
CPU_TILE_BYTES = 512 * 1024
CPU_MIN_ROWS, CPU_MAX_ROWS = 128, 1024
# Up to this many features the nearest-center kernels sum distances from differences; a GEMM
# cannot help with a handful of coordinates.
NEAREST_DIRECT_MAX_FEATURES = 8
# Silhouette: up to this many features distances are summed directly (exact, and as fast).
SILHOUETTE_DIRECT_MAX_FEATURES = 4
# Silhouette CPU chunks: rows per chunk, and columns per (col_block, rows) float64 tile (1 MiB).
SILHOUETTE_CHUNK_ROWS = 256
SILHOUETTE_COL_BLOCK = 512
SILHOUETTE_MIN_ROWS = 16
# The symmetric silhouette kernel keeps per-cluster sums for every row: used while they fit in
# this many MiB (or in working_memory), else the row-chunked kernel.
SYMMETRIC_MAX_MIB = 256

# -- GPU ----------------------------------------------------------------------------------------
# Default scratch budget (MiB) for the product tiles of the distance and silhouette kernels.
GPU_WORKING_MEMORY_MIB = 1024

# -- recurrent layers, CPU ----------------------------------------------------------------------
# The input projection of a layer is computed for blocks of time steps whose (steps, B, G*H)
# result stays within this many bytes, never for all T at once.
RNN_PROJECTION_BLOCK_BYTES = 16 * 2**20
# Rows per GEMM of the projection: fixed by the shape, never by the thread count (determinism).
RNN_PROJECTION_GEMM_ROWS = 1024
