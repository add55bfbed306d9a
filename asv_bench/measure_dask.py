"""fastseq's KMeans on Dask against dask-ml's on the same LocalCluster and data, for BENCHMARKS.md.

    PYTHONPATH=. python3 -m asv_bench.measure_dask [--n 2000000] [--d 32] [--chunks 16] [--k 64]
                                                   [--iters 6] [--repeats 3] [--full-repeats 1]
                                                   [--skip-full]

A LocalCluster of 2 single-threaded worker processes; X (float32 Gaussian blobs) is generated
on the workers and persisted, so nothing large crosses the driver. Rows:

- Lloyd iteration: both from the same array init, tol=0, timed at ``--iters`` and at 1
  iteration; (t_iters - t_1) / (iters - 1) cancels the setup (persist, moments, first graph).
- Full fit with each library's defaults (init "k-means++" for fastseq, "k-means||" for dask-ml;
  tol 1e-4, max_iter 300), and fastseq with init="k-means||"; time, iterations, and the inertia
  Σ ||x - c||² of each result scored the same way (dask-ml's own inertia_ sums unsquared
  distances).
- Peak memory: the driver's resident set above its level before the fit (sampled every 10 ms),
  and each worker's peak resident set during the fit above its level before (workers are
  restarted before each library's memory run, so their peaks are their own).
- Overhead: the Dask path against fastseq's in-memory fit of X.compute() on the same 2 cores
  (2 Numba threads, the cluster idle), same init and iterations.

Runs alternate between the libraries in one process and report medians: the machine may be
shared. dask-ml 2024.4 imports a helper scikit-learn 1.6+ removed; a stand-in is installed
before importing it (it only affects dask-ml's model_selection, which is not used here).
"""

from __future__ import annotations

import argparse
import platform
import threading
import time

import numpy as np


def _import_dask_ml_kmeans():
    import sklearn.utils._tags as tags
    if not hasattr(tags, "_safe_tags"):
        tags._safe_tags = lambda estimator, key=None: {} if key is None else None
    from dask_ml.cluster import KMeans
    return KMeans


def _blob_block(block_id, rows, d, centers, seed):
    rng = np.random.default_rng([seed, block_id[0]])
    labels = rng.integers(0, centers.shape[0], rows)
    return (centers[labels] + rng.standard_normal((rows, d))).astype(np.float32)


def make_data(n, d, chunks, k, seed=0, spread=3.0):
    import dask.array as da
    centers = np.random.default_rng(seed).standard_normal((k, d)) * spread
    rows = n // chunks
    sizes = (rows,) * (chunks - 1) + (n - rows * (chunks - 1),)
    blocks = [da.from_delayed(_delayed_block(i, sizes[i], d, centers, seed), (sizes[i], d),
                              dtype=np.float32) for i in range(chunks)]
    return da.concatenate(blocks, axis=0)


def _delayed_block(i, rows, d, centers, seed):
    import dask
    return dask.delayed(_blob_block, pure=True)((i,), rows, d, centers, seed)


class PeakRSS:
    """Peak resident set of this process above its level at entry, sampled every 10 ms."""

    def __enter__(self):
        import psutil
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.extra = self.peak - self.base


def _worker_peak_start(dask_worker):
    """Start sampling this worker's resident set (a thread in the worker)."""
    probe = PeakRSS()
    probe.__enter__()
    dask_worker._fastseq_probe = probe
    return probe.base


def _worker_peak_stop(dask_worker):
    probe = dask_worker._fastseq_probe
    probe.__exit__(None, None, None)
    return probe.base, probe.peak


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values):
    return float(np.median(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full-repeats", type=int, default=1)
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args()

    import dask
    import distributed

    import fastseq
    DaskMLKMeans = _import_dask_ml_kmeans()
    n, d, k = args.n, args.d, args.k
    print(f"CPU: {platform.processor() or platform.machine()}; {n} x {d} float32 in "
          f"{args.chunks} chunks, k={k}; LocalCluster 2 workers x 1 thread")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    client = distributed.Client(cluster)

    def fresh_data():
        X = make_data(n, d, args.chunks, k).persist()
        distributed.wait(X)
        return X

    X = fresh_data()
    init = X[:k].compute()

    def fs(iters, init_=init, **kw):
        return fastseq.KMeans(k, init=init_, max_iter=iters, tol=0, **kw).fit(X)

    def dm(iters):
        return DaskMLKMeans(k, init=init, max_iter=iters, tol=0).fit(X)

    fs(1), dm(1)  # warm-up: kernels compiled / loaded on every worker
    results = {"fastseq": {1: [], args.iters: []}, "dask-ml": {1: [], args.iters: []}}
    for _ in range(args.repeats):
        for name, fn in (("fastseq", fs), ("dask-ml", dm)):
            for iters in (1, args.iters):
                t, model = timed(lambda: fn(iters))
                results[name][iters].append(t)
    per_iter = {name: (median(r[args.iters]) - median(r[1])) / (args.iters - 1)
                for name, r in results.items()}
    print(f"Lloyd iteration (same init, tol=0, medians of {args.repeats}): fastseq "
          f"{per_iter['fastseq'] * 1e3:.0f} ms, dask-ml {per_iter['dask-ml'] * 1e3:.0f} ms, "
          f"ratio {per_iter['dask-ml'] / per_iter['fastseq']:.1f}x; fit of {args.iters} "
          f"iterations: fastseq {median(results['fastseq'][args.iters]):.2f} s, dask-ml "
          f"{median(results['dask-ml'][args.iters]):.2f} s")

    # overhead against the in-memory fit on the same two cores (the cluster idle)
    Xh = X.compute()
    mem = {"dask": [], "memory": []}
    for _ in range(args.repeats):
        mem["dask"].append(timed(lambda: fs(args.iters))[0])
        mem["memory"].append(timed(lambda: fastseq.KMeans(k, init=init, max_iter=args.iters,
                                                          tol=0).fit(Xh))[0])
    del Xh
    print(f"Overhead, {args.iters} iterations: Dask {median(mem['dask']):.2f} s, in-memory "
          f"{median(mem['memory']):.2f} s (2 Numba threads): "
          f"{median(mem['dask']) / median(mem['memory']):.2f}x")

    def inertia_of(model):
        """Σ ||x - nearest center||² for any fitted centers (dask-ml's inertia_ sums unsquared
        distances, so both are scored here the same way)."""
        scorer = fastseq.KMeans(k)
        scorer.cluster_centers_ = np.asarray(model.cluster_centers_, dtype=np.float32)
        scorer.n_features_in_ = d
        return -scorer.score(X)

    if not args.skip_full:
        fits = {"fastseq": lambda: fastseq.KMeans(k, random_state=0).fit(X),
                "fastseq k-means||": lambda: fastseq.KMeans(k, init="k-means||",
                                                            random_state=0).fit(X),
                "dask-ml": lambda: DaskMLKMeans(k, random_state=0).fit(X)}
        full = {name: [] for name in fits}
        for _ in range(args.full_repeats):
            for name, fn in fits.items():
                t, model = timed(fn)
                full[name].append((t, int(model.n_iter_), inertia_of(model)))
        for name, rs in full.items():
            t = median([r[0] for r in rs])
            print(f"Full fit, defaults, {name}: {t:.2f} s (median of {len(rs)}), "
                  f"n_iter {[r[1] for r in rs]}, inertia {[f'{r[2]:.6g}' for r in rs]}")

    # peak memory: workers restarted before each library's run
    for name, fn in (("fastseq", lambda: fs(args.iters)), ("dask-ml", lambda: dm(args.iters))):
        client.restart()
        X = fresh_data()
        fn()  # load kernels in the new workers
        client.run(_worker_peak_start)
        with PeakRSS() as driver:
            fn()
        peaks = client.run(_worker_peak_stop)
        extra = [(peak - base) / 2**20 for base, peak in peaks.values()]
        print(f"Peak memory, {args.iters} iterations, {name}: driver +{driver.extra / 2**20:.0f} "
              f"MiB, workers +{', +'.join(f'{e:.0f}' for e in extra)} MiB above their "
              f"persisted share ({n * d * 4 / 2**20 / 2:.0f} MiB each)")
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
