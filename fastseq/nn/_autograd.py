"""The torch autograd formula of one recurrent layer in one direction, on the CPU kernels.

:class:`LayerDirection` wraps ``_train_cpu.train_forward_cpu`` (forward, keeping the reserve) and
``_backward_cpu.backward_cpu`` (the reverse time loop). The input projection and the weight,
bias and input gradients are large GEMMs done by torch on the same tensors: x @ W_ih.T + b_ih
before the loop; dx = dG_x @ W_ih, dW_ih = dG_x^T x, dW_hh = dG_h^T h_prev and the bias sums
after it. The kernels see the tensors' memory through ``Tensor.numpy()`` (no copy).
"""

from __future__ import annotations

import numpy as np
import torch

from ..rnn._backward_cpu import backward_cpu
from ..rnn._train_cpu import train_forward_cpu


def _np(t):
    """The NumPy view of a CPU tensor (made contiguous first if it is not)."""
    return t.detach().contiguous().numpy()


class LayerDirection(torch.autograd.Function):
    """(out, h_n, c_n) of one layer direction; c_n is an empty tensor unless kind is "lstm".

    Arguments: kind, relu (bool), reverse (bool), x (T, B, I), w_ih (G*H, I), w_hh (G*H, H),
    b_ih, b_hh (G*H,) or None, h0 (B, H), c0 (B, H) or None, lengths (B,) int64 NumPy array.
    All tensors on the CPU with one dtype (float32 or float64).
    """

    @staticmethod
    def forward(ctx, kind, relu, reverse, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths):
        T, B, n_in = x.shape
        x2 = x.detach().reshape(T * B, n_in)
        xproj = (torch.addmm(b_ih.detach(), x2, w_ih.detach().t()) if b_ih is not None
                 else x2 @ w_ih.detach().t())
        GH = w_hh.shape[0]
        b = _np(b_hh) if b_hh is not None else np.zeros(GH, dtype=xproj.numpy().dtype)
        out, h_n, c_n, reserve = train_forward_cpu(
            kind, xproj.numpy().reshape(T, B, GH), _np(w_hh), b, _np(h0),
            None if c0 is None else _np(c0), lengths, reverse, relu)
        out_t = torch.from_numpy(out)
        ctx.kind, ctx.relu, ctx.reverse, ctx.lengths = kind, relu, reverse, lengths
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        ctx.reserve = reserve
        ctx.save_for_backward(x, w_ih, w_hh)
        ctx.out = out
        c_t = torch.from_numpy(c_n) if c_n is not None else x.new_empty(0)
        return out_t, torch.from_numpy(h_n), c_t

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_hn, d_cn):
        x, w_ih, w_hh = ctx.saved_tensors
        T, B, n_in = x.shape
        H = w_hh.shape[1]
        dtype = x.dtype

        np_dtype = np.float64 if dtype == torch.float64 else np.float32

        def grad(g, shape):
            return _np(g) if g is not None else np.zeros(shape, dtype=np_dtype)

        dc = grad(d_cn, (B, H)) if ctx.kind == "lstm" else None
        dxg, dhg, dh0, dc0 = backward_cpu(ctx.kind, grad(d_out, (T, B, H)), grad(d_hn, (B, H)),
                                          dc, _np(w_hh), ctx.out, ctx.reserve, ctx.lengths,
                                          ctx.reverse, ctx.relu)
        GH = w_hh.shape[0]
        dxg = torch.from_numpy(dxg).reshape(T * B, GH)
        dhg_t = torch.from_numpy(dhg).reshape(T * B, GH) if dhg is not dxg else dxg
        hprev = torch.from_numpy(ctx.reserve["hprev"]).reshape(T * B, H)
        need = ctx.needs_input_grad
        dx = (dxg @ w_ih.detach()).reshape(T, B, n_in) if need[3] else None
        dw_ih = dxg.t() @ x.detach().reshape(T * B, n_in) if need[4] else None
        dw_hh = dhg_t.t() @ hprev if need[5] else None
        db_ih = dxg.sum(0) if ctx.has_bias[0] and need[6] else None
        db_hh = dhg_t.sum(0) if ctx.has_bias[1] and need[7] else None
        dh0_t = torch.from_numpy(dh0) if need[8] else None
        dc0_t = torch.from_numpy(dc0) if dc0 is not None and need[9] else None
        return None, None, None, dx, dw_ih, dw_hh, db_ih, db_hh, dh0_t, dc0_t, None
