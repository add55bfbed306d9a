"""CPU comparison of fastseq's clustering with scikit-learn and faiss-cpu, for BENCHMARKS.md.

    python3 -m asv_bench.measure_cluster_cpu [--repeats N] [--isa native|avx2] [--threads 1 2]
                                             [--spread 3] [--settle 0]

(The recurrent layers' twin is ``asv_bench/measure_rnn_cpu.py``.)

On a shared 2-core machine absolute times drift from run to run; running fastseq and its peer
alternately in the same process, and taking medians, keeps their ratio meaningful. By default the
libraries run back to back with no pause, as in a user's pipeline (the peers' spinning threads
are part of what fastseq meets); ``--settle`` adds a pause before each call. ``--isa avx2`` caps
fastseq and every peer at AVX2 (see ``_isa.py``); each thread count runs with Numba and every BLAS
/ OpenMP pool limited to it. Each row
prints fastseq's median, the peer's median and peer / fastseq (above 1: fastseq is faster). The
asv suite (``asv run``) times the same things for the dashboard; this script is the quick check.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from asv_bench._isa import ISA_CHOICES, describe, reexec_for


def blobs(n, d, k, spread, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * spread
    return (centers[rng.integers(0, k, n)] + rng.standard_normal((n, d))).astype(dtype)


SETTLE_SECONDS = 0.0   # pause before each timed call (--settle)


def interleaved(fns, repeats):
    """Median seconds of each callable, calling them in turn ``repeats`` times (after a warm-up)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def cluster_rows(repeats, spread):
    import faiss
    from sklearn.cluster import KMeans as SKKMeans
    from sklearn.cluster import MiniBatchKMeans as SKMiniBatch
    from sklearn.metrics import pairwise_distances_argmin_min
    from sklearn.metrics import silhouette_score as sk_silhouette

    import fastseq
    rows = []
    rng = np.random.default_rng(1)
    for n, d, k in [(200_000, 64, 256), (1_000_000, 2, 8)]:
        X = blobs(n, d, k, spread)
        C = X[rng.choice(n, k, replace=False)]
        Ct = np.ascontiguousarray(C.T)
        t = interleaved({"fastseq": lambda: fastseq.nearest_centers(X, C),
                         "gemm": lambda: X @ Ct,
                         "sklearn": lambda: pairwise_distances_argmin_min(X, C)}, repeats)
        rows.append((f"nearest_centers {n:,}x{d}, k={k}", t["fastseq"], "X @ C.T", t["gemm"]))
        rows.append((f"nearest_centers {n:,}x{d}, k={k}", t["fastseq"], "sklearn argmin_min",
                     t["sklearn"]))
        iters = 10

        def ours():
            fastseq.KMeans(k, init=C, n_init=1, max_iter=iters, tol=0).fit(X)

        def theirs():
            SKKMeans(k, init=C, n_init=1, max_iter=iters, tol=0, algorithm="lloyd").fit(X)

        def faiss_fit():
            faiss.Kmeans(d, k, niter=iters, max_points_per_centroid=10**9, seed=1).train(
                X, init_centroids=C)
        t = interleaved({"fastseq": ours, "sklearn": theirs, "faiss": faiss_fit,
                         "gemm": lambda: X @ Ct}, max(2, repeats // 3))
        per = {name: v / iters for name, v in t.items()}
        per["gemm"] = t["gemm"]
        what = f"Lloyd iteration {n:,}x{d}, k={k} (10 through fit, same init)"
        rows.append((what, per["fastseq"], "X @ C.T", per["gemm"]))
        rows.append((what, per["fastseq"], "sklearn lloyd", per["sklearn"]))
        rows.append((what, per["fastseq"], "faiss-cpu", per["faiss"]))

    X = blobs(200_000, 64, 256, 1.5)
    results = {}

    def ours_fit():
        results["fastseq"] = fastseq.KMeans(256, random_state=0).fit(X).inertia_

    def sk_fit():
        results["sklearn"] = SKKMeans(256, random_state=0, n_init=1).fit(X).inertia_
    t = interleaved({"fastseq": ours_fit, "sklearn": sk_fit}, 2)
    rows.append((f"KMeans full fit 200,000x64, k=256 (k-means++; inertia ratio "
                 f"{results['fastseq'] / results['sklearn']:.4f})", t["fastseq"], "sklearn",
                 t["sklearn"]))

    X = blobs(1_000_000, 32, 64, 2.0)
    settings = dict(batch_size=4096, max_iter=3, max_no_improvement=None, n_init=1,
                    random_state=0)

    def ours_mb():
        results["mb_fastseq"] = fastseq.MiniBatchKMeans(64, **settings).fit(X).inertia_

    def sk_mb():
        results["mb_sklearn"] = SKMiniBatch(64, **settings).fit(X).inertia_
    t = interleaved({"fastseq": ours_mb, "sklearn": sk_mb}, 2)
    rows.append((f"MiniBatchKMeans 1,000,000x32, k=64, batch 4,096, 3 passes (inertia ratio "
                 f"{results['mb_fastseq'] / results['mb_sklearn']:.4f})", t["fastseq"], "sklearn",
                 t["sklearn"]))

    for d in (2, 64):
        X = blobs(20_000, d, 8, 3.0)
        labels = fastseq.KMeans(8, random_state=0).fit(X).labels_
        t = interleaved({"fastseq": lambda: fastseq.silhouette_score(X, labels),
                         "sklearn": lambda: sk_silhouette(X, labels)}, 2)
        rows.append((f"silhouette_score exact 20,000x{d}", t["fastseq"], "sklearn", t["sklearn"]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--isa", choices=ISA_CHOICES, default="native")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--spread", type=float, default=3.0,
                        help="blob centers ~ normal * spread, rows = center + normal (3: overlapping)")
    parser.add_argument("--settle", type=float, default=0.0)
    args = parser.parse_args(argv)
    reexec_for(args.isa)
    global SETTLE_SECONDS
    SETTLE_SECONDS = args.settle

    import numba
    from threadpoolctl import threadpool_limits
    print(f"CPU: {describe(args.isa)}; blob spread {args.spread}, pause {args.settle} s")
    for threads in args.threads:
        numba.set_num_threads(threads)
        with threadpool_limits(threads):
            rows = cluster_rows(args.repeats, args.spread)
        print(f"\n{threads} thread(s)\n")
        print("| what | fastseq | peer | peer time | peer / fastseq |")
        print("|---|---|---|---|---|")
        for what, ours, peer, theirs in rows:
            print(f"| {what} | {_fmt(ours)} | {peer} | {_fmt(theirs)} | {theirs / ours:.2f}x |")


def _fmt(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


if __name__ == "__main__":
    main()
