"""Array plumbing shared by the metrics: numpy in -> numpy out, torch in -> torch out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["as_tensor", "flatten_backbone", "prepare_points", "to_output"]


def as_tensor(x: Any, dtype: torch.dtype | None = None) -> tuple[Tensor, bool]:
    """Convert ``x`` to a tensor; return it and whether the input was numpy (or a list)."""
    if isinstance(x, Tensor):
        return (x if dtype is None else x.to(dtype)), False
    arr = np.ascontiguousarray(x)
    if not arr.flags.writeable:  # read-only inputs (frozen ProteinChain arrays): copy, never alias
        arr = arr.copy()
    t = torch.from_numpy(arr)
    if dtype is not None:
        t = t.to(dtype)
    elif t.is_floating_point():
        t = t.to(torch.float64)
    return t, True


def prepare_points(pred: Tensor, ref: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Check point sets of shape (..., M, 3), build the mask (..., M) and zero masked points.

    Non-finite coordinates (NaN for missing atoms) in either input are masked out as well.
    """
    if pred.shape != ref.shape:
        raise ValueError(f"pred and ref shapes differ: {tuple(pred.shape)} vs {tuple(ref.shape)}")
    if pred.dim() < 2 or pred.shape[-1] != 3:
        raise ValueError(f"coordinates must have shape (..., M, 3), got {tuple(pred.shape)}")
    if mask is None:
        mask = torch.ones(pred.shape[:-1], dtype=torch.bool, device=pred.device)
    else:
        mask = mask.to(device=pred.device, dtype=torch.bool)
        if mask.shape != pred.shape[:-1]:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not fit coordinates {tuple(pred.shape)}")
    finite = torch.isfinite(pred).all(-1) & torch.isfinite(ref).all(-1)
    mask = mask & finite
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    pred = torch.where(mask[..., None], pred, zero)
    ref = torch.where(mask[..., None], ref, zero)
    return pred, ref, mask


def flatten_backbone(x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """(..., L, A, 3) -> (..., L*A, 3); a mask (..., L, A) or (..., L) -> (..., L*A)."""
    if x.dim() < 3 or x.shape[-1] != 3:
        raise ValueError(f"backbone coordinates must have shape (..., L, A, 3), got {tuple(x.shape)}")
    lead, n_atoms = x.shape[:-2], x.shape[-2]
    flat = x.reshape(*lead[:-1], lead[-1] * n_atoms, 3)
    if mask is None:
        return flat, None
    mask = mask.to(torch.bool)
    if mask.shape == lead:
        mask = mask[..., None].expand(*lead, n_atoms)
    if mask.shape != x.shape[:-1]:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not fit backbone {tuple(x.shape)}")
    return flat, mask.reshape(*lead[:-1], lead[-1] * n_atoms)


def to_output(x: Tensor, was_numpy: bool) -> Any:
    """Tensor -> the caller's type: a Python float / numpy array for numpy callers, else the tensor."""
    if not was_numpy:
        return x
    x = x.detach().cpu()
    if x.dim() == 0:
        return float(x)
    return x.numpy()
