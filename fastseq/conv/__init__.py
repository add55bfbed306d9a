"""1D convolutions: ``Conv1d`` (torch's ``nn.Conv1d`` for inference, plus causal streaming) and
``TCN`` (a stack of causal dilated residual blocks), on Numba CPU kernels."""

from ._conv1d import Conv1d
from ._tcn import TCN

__all__ = ["Conv1d", "TCN"]
