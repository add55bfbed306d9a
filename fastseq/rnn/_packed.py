"""torch ``PackedSequence`` input and output for the sequence layers, mapped onto the ``lengths``
path: the packed rows are scattered into a zero-padded time-major batch in the caller's batch
order, the layer runs with each sequence's length, and the output rows are gathered back in the
packed layout.

A PackedSequence holds, for each time step t, the rows of the ``batch_sizes[t]`` longest
sequences, in the order ``sorted_indices`` (longest first; None when the batch was packed already
sorted, ``enforce_sorted=True``). Initial states and ``h_n`` / ``c_n`` are in the caller's order,
as torch's modules take and return them. torch is only touched when the caller passed one.
"""

from __future__ import annotations

import sys

import numpy as np


def is_packed_sequence(x) -> bool:
    """True for a ``torch.nn.utils.rnn.PackedSequence``, decided without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.nn.utils.rnn.PackedSequence)


def unpack(packed):
    """``(x, lengths, rows)`` of a PackedSequence: x (T, B, I) zero-padded, time-major, in the
    caller's batch order, a torch tensor of the data's dtype on its device; lengths (B,) int64
    NumPy; rows, the (time, batch) index of each packed row, for :func:`repack`."""
    import torch
    data, batch_sizes, sorted_indices = packed.data, packed.batch_sizes, packed.sorted_indices
    sizes = batch_sizes.cpu().numpy().astype(np.int64)
    T, B = len(sizes), int(sizes[0])
    starts = np.cumsum(sizes) - sizes
    t_of_row = np.repeat(np.arange(T), sizes)
    rank_of_row = np.arange(len(t_of_row)) - np.repeat(starts, sizes)   # place among sorted
    order = np.arange(B) if sorted_indices is None else sorted_indices.cpu().numpy()
    lengths = np.empty(B, dtype=np.int64)
    lengths[order] = (sizes[None, :] > np.arange(B)[:, None]).sum(axis=1)
    rows = (torch.as_tensor(t_of_row, device=data.device),
            torch.as_tensor(order[rank_of_row], device=data.device))
    data = data.detach()
    x = data.new_zeros((T, B) + tuple(data.shape[1:]))
    x[rows] = data
    return x, lengths, rows


def repack(output, packed, rows):
    """The (T, B, F) time-major output of the padded batch as a PackedSequence laid out like
    ``packed``."""
    return type(packed)(output[rows], packed.batch_sizes, packed.sorted_indices,
                        packed.unsorted_indices)
