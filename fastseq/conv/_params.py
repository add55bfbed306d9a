"""Hyperparameters of a 1D convolution: checks of kernel size, stride, padding, dilation and
groups (errors name the argument), the padding on each side, output lengths and receptive fields.
Pure Python, no NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import check_int


@dataclass(frozen=True)
class ConvGeometry:
    """The checked hyperparameters of one Conv1d.

    ``padding`` is what the caller gave (an int, ``'valid'`` or ``'same'``); ``pad_left`` /
    ``pad_right`` are the zeros added on each side of the time axis. A causal layer pads
    (k - 1) * dilation zeros on the left only, so that output t sees inputs up to t.
    """

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    padding: object
    dilation: int
    groups: int
    causal: bool
    pad_left: int
    pad_right: int

    @property
    def span(self) -> int:
        """Input samples one output sees: (k - 1) * dilation + 1."""
        return (self.kernel_size - 1) * self.dilation + 1

    def output_length(self, t_in: int) -> int:
        """torch's formula: floor((T + pad_left + pad_right - span) / stride) + 1."""
        return (t_in + self.pad_left + self.pad_right - self.span) // self.stride + 1


def _single(value, name):
    """An int, or a 1-tuple of one (torch's ``_single``)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{name}: expected an int or a 1-tuple, got {value!r}")
        value = value[0]
    return value


def check_geometry(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                   groups=1, causal=False) -> ConvGeometry:
    """Check a Conv1d's hyperparameters as torch does, with messages naming the argument."""
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    out_channels = check_int(out_channels, "out_channels", minimum=1)
    kernel_size = check_int(_single(kernel_size, "kernel_size"), "kernel_size", minimum=1)
    stride = check_int(_single(stride, "stride"), "stride", minimum=1)
    dilation = check_int(_single(dilation, "dilation"), "dilation", minimum=1)
    groups = check_int(groups, "groups", minimum=1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups: expected a divisor of in_channels ({in_channels}) and "
                         f"out_channels ({out_channels}), got {groups}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected True or False, got {causal!r}")
    total = dilation * (kernel_size - 1)
    padding = _single(padding, "padding")
    if causal:
        if padding not in (0, "valid", "causal"):
            raise ValueError(f"padding: a causal layer pads (kernel_size - 1) * dilation = {total} "
                             f"zeros on the left itself; expected 0, got {padding!r}")
        if stride != 1:
            raise ValueError(f"stride: a causal layer needs stride 1, got {stride}")
        padding = "causal"
        left, right = total, 0
    elif isinstance(padding, str):
        if padding == "valid":
            left = right = 0
        elif padding == "same":
            if stride != 1:
                raise ValueError(f"padding: 'same' needs stride 1 (as in torch), got stride "
                                 f"{stride}")
            left, right = total // 2, total - total // 2
        else:
            raise ValueError(f"padding: expected an int >= 0, 'valid' or 'same', got {padding!r}")
    else:
        padding = check_int(padding, "padding", minimum=0)
        left = right = padding
    return ConvGeometry(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                        causal, left, right)


def receptive_field(kernel_sizes, dilations) -> int:
    """Inputs that one output of a stack of stride-1 convolutions sees: 1 + sum (k_i - 1) * d_i."""
    return 1 + sum((k - 1) * d for k, d in zip(kernel_sizes, dilations))
