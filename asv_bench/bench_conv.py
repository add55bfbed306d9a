"""Conv1d and TCN: fastseq beside torch on the CPU (inference, same weights, same thread count).

Shapes: input (B=32, C=64, T=100); Conv1d to 128 channels, kernel 3; a 6-block TCN of 128
channels, kernel 3, dilations 1..32 (torch runs the same stack written with F.conv1d); one
streamed TCN step at B = 1 (torch re-runs the stack over the 127-input receptive field).
``track_`` benchmarks record the max absolute error against torch.
"""

import numpy as np

B, C_IN, T, C = 32, 64, 100, 128
DILATIONS = [1, 2, 4, 8, 16, 32]


def _torch():
    import numba
    import torch
    torch.set_num_threads(numba.get_num_threads())
    return torch


class Offline:
    """One whole-batch call."""

    params = (["conv1d", "tcn"], ["fastseq", "torch"])
    param_names = ["model", "implementation"]
    timeout = 300

    def setup(self, model, implementation):
        torch = _torch()
        import fastseq
        from fastseq.cli._compare_conv import run_torch_tcn, torch_tcn
        torch.manual_seed(0)
        x = torch.randn(B, C_IN, T)
        xn = x.numpy()
        if model == "conv1d":
            m = torch.nn.Conv1d(C_IN, C, 3).eval()
            f = fastseq.Conv1d.from_torch(m, device="cpu")
            peer = m
        else:
            m = torch_tcn(torch, C_IN, C, 3, DILATIONS)
            f = fastseq.TCN.from_torch(m, device="cpu")

            def peer(xt):
                return run_torch_tcn(torch, m, xt)
        if implementation == "fastseq":
            self.run = lambda: f(xn)
        else:
            def run():
                with torch.inference_mode():
                    return peer(x)
            self.run = run
        for _ in range(3):
            self.run()

    def time_forward(self, model, implementation):
        self.run()


class StreamStep:
    """One streamed TCN step at B = 1 (fastseq) / the stack over the receptive field (torch)."""

    params = (["fastseq", "torch"],)
    param_names = ["implementation"]

    def setup(self, implementation):
        torch = _torch()
        import fastseq
        from fastseq.cli._compare_conv import run_torch_tcn, torch_tcn
        torch.manual_seed(0)
        m = torch_tcn(torch, C_IN, C, 3, DILATIONS)
        f = fastseq.TCN.from_torch(m, device="cpu")
        if implementation == "fastseq":
            state = f.init_state(1)
            x = np.random.default_rng(0).standard_normal(C_IN).astype(np.float32)
            self.run = lambda: f.step(x, state)
        else:
            window = torch.randn(1, C_IN, f.receptive_field)

            def run():
                with torch.inference_mode():
                    return run_torch_tcn(torch, m, window)[:, :, -1]
            self.run = run
        for _ in range(3):
            self.run()

    def time_step(self, implementation):
        self.run()


class Accuracy:
    """Max absolute error against torch, float32, on the offline shapes."""

    params = (["conv1d", "tcn"],)
    param_names = ["model"]
    unit = "max abs error"

    def track_max_error(self, model):
        torch = _torch()
        import fastseq
        from fastseq.cli._compare_conv import run_torch_tcn, torch_tcn
        torch.manual_seed(1)
        x = torch.randn(B, C_IN, T)
        with torch.inference_mode():
            if model == "conv1d":
                m = torch.nn.Conv1d(C_IN, C, 3)
                want, got = m(x), fastseq.Conv1d.from_torch(m)(x.numpy())
            else:
                m = torch_tcn(torch, C_IN, C, 3, DILATIONS)
                want, got = run_torch_tcn(torch, m, x), fastseq.TCN.from_torch(m)(x.numpy())
        return float(np.abs(got - want.numpy()).max())
