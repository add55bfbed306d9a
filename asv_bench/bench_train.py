"""Training step of the recurrent layers on the CPU: fastseq.nn beside torch's modules.

One step = forward of a whole sequence (T = 100, time-major float32 input (T, B, I)) and
``out.sum().backward()``, no optimizer, same weights; torch gets Numba's thread count. Shapes:
B in {1, 32} at I = 64, H = 128, and B = 32 at H = 512.
"""

T = 100
SHAPES = ["1x64x128", "32x64x128", "32x64x512"]  # B x I x H
KINDS = ["LSTM", "GRU", "RNN"]


class TrainStep:
    params = (KINDS, SHAPES, ["fastseq", "torch"])
    param_names = ["kind", "B_I_H", "implementation"]
    timeout = 300

    def setup(self, kind, shape, implementation):
        import numba
        import torch

        import fastseq.nn as fnn
        torch.set_num_threads(numba.get_num_threads())
        B, I, H = (int(v) for v in shape.split("x"))
        torch.manual_seed(0)
        lib = fnn if implementation == "fastseq" else torch.nn
        self.m = getattr(lib, kind)(I, H)
        self.x = torch.randn(T, B, I)
        self.time_step()  # compile / warm up

    def time_step(self, *args):
        for p in self.m.parameters():
            p.grad = None
        out, _ = self.m(self.x)
        out.sum().backward()

    def peakmem_step(self, *args):
        self.time_step()
