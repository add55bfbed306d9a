"""``fastseq demo``: the main job, on embedded defaults, in under a minute on 2 cores.

Detects the devices, clusters a built-in data set (seeded Gaussian blobs, 100,000 x 16, 10
clusters) with KMeans and MiniBatchKMeans, runs LSTM and GRU layers at the interview shape, and
prints what ran, where, how long it took and, where scikit-learn or torch are installed, the peer's
time and the agreement (inertia ratio, max error).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from .. import _backend
from ._peers import optional_import, torch_peer_device

N_SAMPLES, N_FEATURES, N_CLUSTERS = 100_000, 16, 10
BATCH, STEPS, INPUTS, HIDDEN = 32, 100, 64, 128


def builtin_blobs(seed=0):
    """The demo's data set: (X float32 (100,000, 16), true labels)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(N_CLUSTERS, N_FEATURES))
    labels = rng.integers(0, N_CLUSTERS, N_SAMPLES)
    X = centers[labels] + rng.standard_normal((N_SAMPLES, N_FEATURES))
    return X.astype(np.float32), labels


def _timed(fn, repeats=1, budget=2.0):
    """(result of the last call, median seconds over up to ``repeats`` calls).

    Stops early once the calls took ``budget`` seconds together (at least one call runs), so a
    slow peer on a busy machine cannot stretch the demo past its minute.
    """
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if sum(times) >= budget:
            break
    return result, float(np.median(times))


def clustering_rows(device, ready=None):
    """Rows of the table for KMeans and MiniBatchKMeans. ``ready`` is called after the kernels
    are compiled and before anything is timed (the demo waits there for its background
    compile, so that it does not share the cores with the timings)."""
    import fastseq
    sklearn = optional_import("sklearn")
    X_host, _ = builtin_blobs()
    X = _backend.to_device(X_host, device)
    rows = []
    # compile the kernels on a small slice first, so the table shows steady-state times
    fastseq.KMeans(N_CLUSTERS, random_state=0, device=device).fit(X[:2000])
    fastseq.MiniBatchKMeans(N_CLUSTERS, random_state=0, device=device,
                            batch_size=1024).fit(X[:4000])
    if ready is not None:
        ready()

    km, t_fast = _timed(lambda: fastseq.KMeans(N_CLUSTERS, random_state=0, device=device).fit(X))
    peer_t = agree = None
    if sklearn is not None:
        from sklearn.cluster import KMeans
        ref, peer_t = _timed(lambda: KMeans(N_CLUSTERS, random_state=0, n_init=1).fit(X_host))
        agree = f"inertia ratio {km.inertia_ / ref.inertia_:.4f}"
    rows.append(("KMeans fit (k-means++)", f"{N_SAMPLES:,} x {N_FEATURES}, k={N_CLUSTERS}",
                 km.device_, t_fast, "scikit-learn", peer_t, agree))

    mb, t_fast = _timed(lambda: fastseq.MiniBatchKMeans(
        N_CLUSTERS, random_state=0, batch_size=4096, device=device).fit(X))
    peer_t = agree = None
    if sklearn is not None:
        from sklearn.cluster import MiniBatchKMeans
        ref, peer_t = _timed(lambda: MiniBatchKMeans(
            N_CLUSTERS, random_state=0, batch_size=4096, n_init=1).fit(X_host))
        agree = f"inertia ratio {mb.inertia_ / ref.inertia_:.4f}"
    rows.append(("MiniBatchKMeans fit", f"{N_SAMPLES:,} x {N_FEATURES}, k={N_CLUSTERS}, "
                 "batch 4,096", mb.device_, t_fast, "scikit-learn", peer_t, agree))
    return rows


def recurrent_rows(device):
    """LSTM and GRU layers at the interview shape; with torch installed, fastseq runs the torch
    module's own weights (``from_torch``) and torch is the peer (on the GPU too when fastseq runs
    there and torch has CUDA)."""
    import fastseq
    torch = optional_import("torch")
    x = np.random.default_rng(1).standard_normal((BATCH, STEPS, INPUTS), dtype=np.float32)
    xd = _backend.to_device(x, device)
    rows = []
    for name in ("LSTM", "GRU"):
        if torch is not None:
            torch.manual_seed(0)
            ref = getattr(torch.nn, name)(INPUTS, HIDDEN, batch_first=True).eval()
            layer = getattr(fastseq, name).from_torch(ref, device=device)
        else:
            ref = None
            layer = getattr(fastseq, name)(INPUTS, HIDDEN, batch_first=True, device=device,
                                          random_state=0)

        def fast_call():
            result = layer(xd)  # (output, h_n) for GRU, (output, (h_n, c_n)) for LSTM
            _backend.synchronize(device)
            return result

        layer(xd[:, :2])  # compile outside the timing (the full batch takes the same kernels)
        (out, _), t_fast = _timed(fast_call, repeats=5)
        out = _backend.to_host(out)
        peer, peer_t, agree = "torch", None, None
        if ref is not None:
            on_gpu = torch_peer_device(torch, device) == "cuda"
            if on_gpu:
                ref = ref.cuda()
                peer = "torch (cuda)"
            xt = torch.from_numpy(x).to("cuda" if on_gpu else "cpu")

            def peer_call():
                result = ref(xt)
                if on_gpu:
                    torch.cuda.synchronize()
                return result

            with torch.inference_mode():
                ref(xt[:, :2])
                (ref_out, _), peer_t = _timed(peer_call, repeats=5)
            agree = f"max error {np.abs(out - ref_out.cpu().numpy()).max():.1e}"
        rows.append((f"{name} layer", f"B={BATCH}, T={STEPS}, I={INPUTS}, H={HIDDEN}",
                     device, t_fast, peer, peer_t, agree))
    return rows


def warm_recurrent_kernels() -> None:
    """Compile (or load from Numba's cache) the CPU kernels the recurrent rows call: the same
    layers, dtype and batch as :func:`recurrent_rows`, on two time steps."""
    import fastseq
    x = np.zeros((BATCH, 2, INPUTS), dtype=np.float32)
    for name in ("LSTM", "GRU"):
        getattr(fastseq, name)(INPUTS, HIDDEN, batch_first=True, device="cpu")(x)


def start_background_compile(device):
    """On the CPU, compile the recurrent kernels in a child process while this one compiles the
    clustering kernels: Numba compiles one function at a time per process, and on a fresh
    machine compiling is most of the demo's first run. Both write Numba's on-disk cache
    (``cache=True``), so :func:`recurrent_rows` then loads instead of compiling. None when there
    is nothing to gain (CUDA) or the child cannot start; the demo then compiles in-process."""
    if device != "cpu" or os.environ.get("FASTSEQ_DEMO_NO_BACKGROUND"):
        return None
    try:
        return subprocess.Popen([sys.executable, "-c",
                                 "from fastseq.cli._demo import warm_recurrent_kernels as w; w()"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def wait_background_compile(proc, timeout=120.0) -> None:
    if proc is None:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _threads_line():
    import numba
    line = f"cpu threads: numba {numba.get_num_threads()}"
    torch = optional_import("torch")
    if torch is not None:
        line += f", torch {torch.get_num_threads()}"
    return line


def run(args) -> int:
    from ._table import print_table
    start = time.perf_counter()
    status = _backend.gpu_status()
    print("devices: cpu" + (f", cuda ({status.name})" if status.available
                            else f"; cuda not usable: {status.reason}"))
    device = _backend.resolve_device(args.device)
    print(_threads_line())
    print(f"data: {N_SAMPLES:,} x {N_FEATURES} float32 Gaussian blobs around {N_CLUSTERS} centers "
          f"(seed 0); sequences: random (B={BATCH}, T={STEPS}, I={INPUTS}), hidden {HIDDEN}")
    child = start_background_compile(device)
    try:
        rows = clustering_rows(device, ready=lambda: wait_background_compile(child))
    finally:
        if child is not None and child.poll() is None:  # interrupted: do not leave it running
            child.kill()
            child.wait()
    rows += recurrent_rows(device)

    def ms(t):
        return "n/a" if t is None else f"{t * 1e3:.1f} ms"

    table = []
    for task, shape, dev, t_fast, peer, t_peer, agree in rows:
        speedup = f"{t_peer / t_fast:.2f}x" if t_peer else "n/a"
        table.append([task, shape, dev, ms(t_fast), peer if t_peer else f"{peer} (not installed)",
                      ms(t_peer), speedup, agree or "n/a"])
    print()
    print_table(["what ran", "shape", "device", "fastseq", "peer", "peer time", "speedup",
                 "agreement"], table)
    print(f"\ntotal {time.perf_counter() - start:.1f} s (the first run compiles the kernels and "
          "caches them for the next; times are medians of up to 5 calls after a warm-up)")
    return 0
