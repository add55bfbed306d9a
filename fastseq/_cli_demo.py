"""``fastseq demo``: the main job, on embedded defaults, in under a minute on 2 cores.

Detects the devices, clusters a built-in data set (seeded Gaussian blobs, 100,000 x 16, 10
clusters) with KMeans and MiniBatchKMeans, runs LSTM and GRU layers at the interview shape, and
prints what ran, where, how long it took and, where scikit-learn or torch are installed, the peer's
time and the agreement (inertia ratio, max error).
"""

from __future__ import annotations

import time

import numpy as np

N_SAMPLES, N_FEATURES, N_CLUSTERS = 100_000, 16, 10
BATCH, STEPS, INPUTS, HIDDEN = 32, 100, 64, 128


def builtin_blobs(seed=0):
    """The demo's data set: (X float32 (100,000, 16), true labels)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(N_CLUSTERS, N_FEATURES))
    labels = rng.integers(0, N_CLUSTERS, N_SAMPLES)
    X = centers[labels] + rng.standard_normal((N_SAMPLES, N_FEATURES))
    return X.astype(np.float32), labels


def _timed(fn, repeats=1):
    """(result of the last call, median seconds over ``repeats`` calls)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, float(np.median(times))


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def clustering_rows(device):
    import fastseq
    sklearn = _optional("sklearn")
    X, _ = builtin_blobs()
    rows = []
    # compile the kernels on a small slice first, so the table shows steady-state times
    fastseq.KMeans(N_CLUSTERS, random_state=0, device=device).fit(X[:2000])
    fastseq.MiniBatchKMeans(N_CLUSTERS, random_state=0, device=device, batch_size=1024).fit(X[:4000])

    km, t_fast = _timed(lambda: fastseq.KMeans(N_CLUSTERS, random_state=0, device=device).fit(X))
    peer_t = agree = None
    if sklearn is not None:
        from sklearn.cluster import KMeans
        ref, peer_t = _timed(lambda: KMeans(N_CLUSTERS, random_state=0, n_init=1).fit(X))
        agree = f"inertia ratio {km.inertia_ / ref.inertia_:.4f}"
    rows.append(("KMeans fit (k-means++)", f"{N_SAMPLES:,} x {N_FEATURES}, k={N_CLUSTERS}",
                 device, t_fast, "scikit-learn", peer_t, agree))

    mb, t_fast = _timed(lambda: fastseq.MiniBatchKMeans(
        N_CLUSTERS, random_state=0, batch_size=4096, device=device).fit(X))
    peer_t = agree = None
    if sklearn is not None:
        from sklearn.cluster import MiniBatchKMeans
        ref, peer_t = _timed(lambda: MiniBatchKMeans(
            N_CLUSTERS, random_state=0, batch_size=4096, n_init=1).fit(X))
        agree = f"inertia ratio {mb.inertia_ / ref.inertia_:.4f}"
    rows.append(("MiniBatchKMeans fit", f"batch 4,096", device, t_fast, "scikit-learn", peer_t,
                 agree))
    return rows


def recurrent_rows(device):
    import fastseq
    torch = _optional("torch")
    x = np.random.default_rng(1).standard_normal((BATCH, STEPS, INPUTS), dtype=np.float32)
    rows = []
    for name in ("LSTM", "GRU"):
        if torch is not None:
            torch.manual_seed(0)
            ref = getattr(torch.nn, name)(INPUTS, HIDDEN, batch_first=True).eval()
            layer = getattr(fastseq, name).from_torch(ref, device=device)
        else:
            ref = None
            layer = getattr(fastseq, name)(INPUTS, HIDDEN, batch_first=True, device=device)
        layer(x[:1, :5])  # compile outside the timing
        (out, _), t_fast = _timed(lambda: layer(x), repeats=5)
        peer_t = agree = None
        if ref is not None:
            xt = torch.from_numpy(x)
            with torch.inference_mode():
                ref(xt)
                (ref_out, _), peer_t = _timed(lambda: ref(xt), repeats=5)
            agree = f"max error {np.abs(np.asarray(out) - ref_out.numpy()).max():.1e}"
        rows.append((f"{name} layer", f"B={BATCH}, T={STEPS}, I={INPUTS}, H={HIDDEN}", device,
                     t_fast, "torch", peer_t, agree))
    return rows


def run(args) -> int:
    from ._backend import gpu_status, resolve_device
    from .cli import print_table
    status = gpu_status()
    print("devices: cpu" + (f", cuda ({status.name})" if status.available
                            else f"; cuda not usable: {status.reason}"))
    device = resolve_device(args.device)
    start = time.perf_counter()
    rows = clustering_rows(device) + recurrent_rows(device)

    def ms(t):
        return "n/a" if t is None else f"{t * 1e3:.1f} ms"

    table = []
    for task, shape, dev, t_fast, peer, t_peer, agree in rows:
        speedup = f"{t_peer / t_fast:.2f}x" if t_peer else "n/a"
        table.append([task, shape, dev, ms(t_fast), f"{peer}" if t_peer else f"{peer} (absent)",
                      ms(t_peer), speedup, agree or "n/a"])
    print()
    print_table(["what ran", "shape", "device", "fastseq", "peer", "peer time", "speedup",
                 "agreement"], table)
    print(f"\ntotal {time.perf_counter() - start:.1f} s (first run includes compiling the kernels; "
          "they are cached for the next)")
    return 0
