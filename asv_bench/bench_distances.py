"""Nearest-center assignment and pairwise distances: fastseq beside the bare GEMM and scikit-learn."""

import numpy as np

from ._common import DEVICES, blobs, require, sync, to_device

SHAPES = ["200000x64x256", "1000000x2x8"]


def _shape(s):
    return tuple(int(v) for v in s.split("x"))


class NearestCenters:
    """One full assignment (labels + squared distances) of n float32 rows to k centers."""

    params = (SHAPES, ["fastseq", "gemm", "sklearn"], DEVICES)
    param_names = ["rows x features x clusters", "implementation", "device"]
    timeout = 300

    def setup(self, n_d_k, implementation, device):
        require(device)
        n, d, k = _shape(n_d_k)
        X, _ = blobs(n, d, k)
        rng = np.random.default_rng(1)
        C = X[rng.choice(n, k, replace=False)]
        self.device = device
        if implementation == "fastseq":
            import fastseq
            self.X, self.C = to_device(X, device), to_device(C, device)
            self.run = lambda: fastseq.nearest_centers(self.X, self.C, device=device)
        elif implementation == "gemm":
            xp = np
            if device == "cuda":
                import cupy as xp
            self.X, self.Ct = to_device(X, device), xp.ascontiguousarray(to_device(C, device).T)
            self.run = lambda: self.X @ self.Ct
        else:
            if device == "cuda":
                raise NotImplementedError("scikit-learn runs on the CPU only")
            from sklearn.metrics import pairwise_distances_argmin_min
            self.run = lambda: pairwise_distances_argmin_min(X, C)
        self.run()  # compile and warm up outside the timed body
        sync(device)

    def time_assign(self, n_d_k, implementation, device):
        self.run()
        sync(self.device)

    time_assign.pretty_name = "nearest_centers: one assignment, fastseq vs GEMM, scikit-learn"


class PairwiseSqdist:
    """The full (n, m) squared-distance matrix."""

    params = (["fastseq", "sklearn"], DEVICES)
    param_names = ["implementation", "device"]

    def setup(self, implementation, device):
        require(device)
        X, _ = blobs(20_000, 64, 8)
        Y = X[:2000]
        self.device = device
        if implementation == "fastseq":
            import fastseq
            X, Y = to_device(X, device), to_device(Y, device)
            self.run = lambda: fastseq.pairwise_sqdist(X, Y, device=device)
        else:
            if device == "cuda":
                raise NotImplementedError("scikit-learn runs on the CPU only")
            from sklearn.metrics.pairwise import euclidean_distances
            self.run = lambda: euclidean_distances(X, Y, squared=True)
        self.run()
        sync(device)

    def time_pairwise(self, implementation, device):
        self.run()
        sync(self.device)


class NearestCentersMemory:
    """Peak memory of the chunked kernel at n = 400,000, k = 4,096 (the n x k matrix would be 6.5 GB)."""

    timeout = 600

    def setup(self):
        import fastseq
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((400_000, 64), dtype=np.float32)
        self.C = rng.standard_normal((4096, 64), dtype=np.float32)
        fastseq.nearest_centers(self.X[:1000], self.C)

    def peakmem_nearest_centers_k4096(self):
        import fastseq
        fastseq.nearest_centers(self.X, self.C, device="cpu")
