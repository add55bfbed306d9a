"""MiniBatchKMeans: passes over the data and partial_fit, fastseq beside scikit-learn."""

import numpy as np

from ._common import DEVICES, blobs, require, sync, to_device

SETTINGS = dict(batch_size=4096, max_iter=3, max_no_improvement=None, n_init=1, random_state=0)


class ThreePasses:
    """fit at n = 1,000,000, d = 32, k = 64, batch 4,096, three passes (732 steps, no early stop)."""

    params = (["fastseq", "sklearn"], DEVICES)
    param_names = ["implementation", "device"]
    timeout = 900
    number = 1
    repeat = 2

    def setup(self, implementation, device):
        require(device)
        if implementation == "sklearn" and device == "cuda":
            raise NotImplementedError("scikit-learn runs on the CPU only")
        X, _ = blobs(1_000_000, 32, 64, spread=2.0)
        self.device = device
        if implementation == "fastseq":
            import fastseq
            fastseq.MiniBatchKMeans(64, **{**SETTINGS, "max_iter": 1}, device=device).fit(X[:20000])
            Xd = to_device(X, device)
            self.run = lambda: fastseq.MiniBatchKMeans(64, **SETTINGS, device=device).fit(Xd)
        else:
            from sklearn.cluster import MiniBatchKMeans
            self.run = lambda: MiniBatchKMeans(64, **SETTINGS).fit(X)

    def time_three_passes(self, implementation, device):
        self.run()
        sync(self.device)


class PartialFit:
    """One partial_fit step on a 4,096-row chunk (d = 32, k = 64) of an initialised model."""

    params = (["fastseq", "sklearn"], DEVICES)
    param_names = ["implementation", "device"]

    def setup(self, implementation, device):
        require(device)
        if implementation == "sklearn" and device == "cuda":
            raise NotImplementedError("scikit-learn runs on the CPU only")
        X, _ = blobs(200_000, 32, 64)
        self.device = device
        if implementation == "fastseq":
            import fastseq
            self.model = fastseq.MiniBatchKMeans(64, random_state=0, compute_labels=False,
                                                 device=device)
        else:
            from sklearn.cluster import MiniBatchKMeans
            self.model = MiniBatchKMeans(64, random_state=0, compute_labels=False)
        self.chunks = [to_device(X[s:s + 4096], device) for s in range(0, 40 * 4096, 4096)]
        self.model.partial_fit(self.chunks[0])
        self.model.partial_fit(self.chunks[1])
        self.i = 0

    def time_partial_fit(self, implementation, device):
        self.i = (self.i + 1) % len(self.chunks)
        self.model.partial_fit(self.chunks[self.i])
        sync(self.device)


class Quality:
    """Final inertia relative to scikit-learn's with the same settings (below 1 is better)."""

    timeout = 900
    number = 1
    repeat = 1

    def setup(self):
        self.X, _ = blobs(300_000, 32, 64, spread=2.0)

    def track_inertia_ratio_to_sklearn(self):
        """Mean over three seeds: one seed's ratio moves by +-2% with the batches drawn."""
        import fastseq
        from sklearn.cluster import MiniBatchKMeans
        ratios = []
        for seed in range(3):
            settings = {**SETTINGS, "random_state": seed}
            ours = fastseq.MiniBatchKMeans(64, **settings, device="cpu").fit(self.X).inertia_
            ref = MiniBatchKMeans(64, **settings).fit(self.X).inertia_
            ratios.append(ours / ref)
        return float(np.mean(ratios))

    track_inertia_ratio_to_sklearn.unit = "ratio"
