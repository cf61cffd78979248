"""Flat (PyG-order) residue rows to a padded (B, L, ...) batch, in plain torch.

The same layout as ``torch_geometric.utils.to_dense_batch`` for a sorted ``batch`` vector (the order PyG's
``Batch`` and :class:`protok.graph.GraphBatch` produce), without importing torch_geometric.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["to_dense"]


def to_dense(x: Tensor, batch: Tensor | None) -> tuple[Tensor, Tensor]:
    """Pad the rows of each complex into ``(B, L_max, ...)``.

    Parameters
    ----------
    x : Tensor, shape=(N, ...)
    batch : Tensor, shape=(N,), dtype=long, or None
        Complex of each row, sorted (None = one complex).

    Returns
    -------
    dense : Tensor, shape=(B, L_max, ...)
        Zeros (False) in padding.
    mask : Tensor, shape=(B, L_max), dtype=bool
        True for real rows; ``dense[mask]`` gives ``x`` back.
    """
    n = x.shape[0]
    if batch is None or n == 0:
        return x.unsqueeze(0), torch.ones(1, n, dtype=torch.bool, device=x.device)
    counts = torch.bincount(batch)
    b, width = counts.numel(), int(counts.max())
    starts = torch.cumsum(counts, 0) - counts
    pos = torch.arange(n, device=x.device) - starts[batch]
    dense = x.new_zeros((b, width, *x.shape[1:]))
    dense[batch, pos] = x
    mask = torch.zeros(b, width, dtype=torch.bool, device=x.device)
    mask[batch, pos] = True
    return dense, mask
