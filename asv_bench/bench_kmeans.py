"""KMeans: Lloyd iterations and full fits, fastseq beside scikit-learn and faiss-cpu."""

import numpy as np

from ._common import DEVICES, blobs, require, sync, to_device

SHAPES = ["200000x64x256", "1000000x2x8"]
ITERATIONS = 10


def _shape(s):
    return tuple(int(v) for v in s.split("x"))


def _data(n_d_k):
    n, d, k = _shape(n_d_k)
    X, _ = blobs(n, d, k)
    init = X[np.random.default_rng(1).choice(n, k, replace=False)]
    return X, init


class LloydIterations:
    """Ten Lloyd iterations from the same initial centers (tol=0, so all ten run)."""

    params = (SHAPES, ["fastseq", "sklearn", "faiss"], DEVICES)
    param_names = ["rows x features x clusters", "implementation", "device"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, n_d_k, implementation, device):
        require(device)
        X, init = _data(n_d_k)
        k = init.shape[0]
        self.device = device
        if implementation == "fastseq":
            import fastseq
            Xd = to_device(X, device)
            est = fastseq.KMeans(k, init=init, n_init=1, max_iter=ITERATIONS, tol=0, device=device)
            self.run = lambda: est.fit(Xd)
        elif device == "cuda":
            raise NotImplementedError(f"{implementation} is timed on the CPU only")
        elif implementation == "sklearn":
            from sklearn.cluster import KMeans
            est = KMeans(k, init=init, n_init=1, max_iter=ITERATIONS, tol=0, algorithm="lloyd")
            self.run = lambda: est.fit(X)
        else:
            import faiss

            def run():
                km = faiss.Kmeans(X.shape[1], k, niter=ITERATIONS, max_points_per_centroid=10**9,
                                  seed=1)
                km.train(X, init_centroids=init)
            self.run = run
        self.run()  # compile and warm up outside the timed body
        sync(device)

    def time_ten_iterations(self, n_d_k, implementation, device):
        self.run()
        sync(self.device)

    time_ten_iterations.pretty_name = "KMeans: ten Lloyd iterations, fastseq vs scikit-learn, faiss"


class FullFit:
    """fit with the defaults (k-means++, n_init=1, tol=1e-4) at n=200,000, d=64, k=256."""

    params = (["fastseq", "sklearn"], DEVICES)
    param_names = ["implementation", "device"]
    timeout = 900
    number = 1
    repeat = 2

    def setup(self, implementation, device):
        require(device)
        if implementation == "sklearn" and device == "cuda":
            raise NotImplementedError("scikit-learn runs on the CPU only")
        X, _ = blobs(200_000, 64, 256, spread=1.5)
        self.device = device
        if implementation == "fastseq":
            import fastseq
            fastseq.KMeans(8, random_state=0, device=device).fit(X[:5000])  # compile
            Xd = to_device(X, device)
            self.run = lambda: fastseq.KMeans(256, random_state=0, n_init=1, device=device).fit(Xd)
        else:
            from sklearn.cluster import KMeans
            self.run = lambda: KMeans(256, random_state=0, n_init=1).fit(X)

    def time_fit(self, implementation, device):
        self.run()
        sync(self.device)

    time_fit.pretty_name = "KMeans: default fit 200000 x 64, k = 256, fastseq vs scikit-learn"


class Quality:
    """Inertia of fastseq's default fit relative to scikit-learn's (same seed; below 1 is better)."""

    timeout = 900
    number = 1
    repeat = 1

    def setup(self):
        from sklearn.datasets import load_digits
        self.X = load_digits().data

    def track_digits_inertia_ratio_to_sklearn(self):
        import fastseq
        from sklearn.cluster import KMeans
        ours = np.mean([fastseq.KMeans(10, random_state=s, device="cpu").fit(self.X).inertia_
                        for s in range(5)])
        ref = np.mean([KMeans(10, random_state=s).fit(self.X).inertia_ for s in range(5)])
        return float(ours / ref)

    track_digits_inertia_ratio_to_sklearn.unit = "ratio"
    track_digits_inertia_ratio_to_sklearn.pretty_name = (
        "KMeans quality: inertia / scikit-learn's on digits, k = 10 (below 1 is better)")


class KMeansMemory:
    """Peak memory of one Lloyd iteration at n = 400,000, d = 64, k = 4,096 (float32)."""

    timeout = 900

    def setup(self):
        import fastseq
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((400_000, 64), dtype=np.float32)
        self.init = self.X[:4096].copy()
        fastseq.KMeans(16, init=self.init[:16], max_iter=1).fit(self.X[:2000])

    def peakmem_lloyd_k4096(self):
        import fastseq
        fastseq.KMeans(4096, init=self.init, max_iter=1, tol=0, device="cpu").fit(self.X)
