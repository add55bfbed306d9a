"""Silhouette score: fastseq beside scikit-learn, exact on 20,000 points and sampled."""

import numpy as np

from ._common import DEVICES, blobs, require, sync, to_device

N = 20_000
FEATURES = [2, 16, 64]
K = 8


def _data(d):
    X, centers = blobs(N, d, K, spread=2.0)
    labels = ((X[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)  # the nearest true center
    return X, labels


def _runner(implementation, device, X, labels, **kwargs):
    if implementation == "fastseq":
        import fastseq
        X = to_device(X, device)
        return lambda: fastseq.silhouette_score(X, labels, device=device, **kwargs)
    if device == "cuda":
        raise NotImplementedError("scikit-learn runs on the CPU only")
    from sklearn.metrics import silhouette_score
    return lambda: silhouette_score(X, labels, **kwargs)


class SilhouetteExact:
    """Exact mean silhouette of 20,000 float32 points in 8 clusters."""

    params = (FEATURES, ["fastseq", "sklearn"], DEVICES)
    param_names = ["n_features", "implementation", "device"]
    timeout = 300
    number = 1
    repeat = 3

    def setup(self, d, implementation, device):
        require(device)
        X, labels = _data(d)
        self.device = device
        self.run = _runner(implementation, device, X, labels)
        if implementation == "fastseq":  # compile outside the timed body
            import fastseq
            fastseq.silhouette_score(to_device(X[:300], device), labels[:300], device=device)
        sync(device)

    def time_silhouette_exact(self, d, implementation, device):
        self.run()
        sync(self.device)


class SilhouetteSampled:
    """Mean silhouette of a 5,000-row sample of 20,000 float32 points (scikit-learn's sampling)."""

    params = (["fastseq", "sklearn"], DEVICES)
    param_names = ["implementation", "device"]
    timeout = 300

    def setup(self, implementation, device):
        require(device)
        X, labels = _data(16)
        self.device = device
        self.run = _runner(implementation, device, X, labels, sample_size=5000, random_state=0)
        self.run()
        sync(device)

    def time_silhouette_sampled(self, implementation, device):
        self.run()
        sync(self.device)


class SilhouetteAccuracy:
    """|fastseq - scikit-learn| of the exact score (float64 data, 4,000 points)."""

    params = (FEATURES, DEVICES)
    param_names = ["n_features", "device"]
    unit = "absolute difference"

    def setup(self, d, device):
        require(device)
        X, labels = _data(d)
        self.X, self.labels = X[:4000].astype(np.float64), labels[:4000]
        self.device = device

    def track_abs_diff_vs_sklearn(self, d, device):
        import fastseq
        from sklearn.metrics import silhouette_score
        ours = fastseq.silhouette_score(to_device(self.X, device), self.labels, device=device)
        return abs(ours - silhouette_score(self.X, self.labels))


class SilhouetteMemory:
    """Peak memory of the exact score on 50,000 points (the n x n float64 matrix would be 20 GB)."""

    timeout = 300

    def setup(self):
        import fastseq
        self.X = blobs(50_000, 2, K, spread=2.0)[0]
        self.labels = np.random.default_rng(0).integers(0, K, 50_000)
        fastseq.silhouette_score(self.X[:300], self.labels[:300], device="cpu")

    def peakmem_silhouette_exact_50k(self):
        import fastseq
        fastseq.silhouette_score(self.X, self.labels, device="cpu")
