"""Kabsch superposition and RMSD, for numpy arrays and (batched, masked) torch tensors.

Every function accepts numpy arrays or torch tensors and returns the same kind (numpy callers get Python
floats for scalars). Computation runs in float64 on the input's device. Coordinates marked missing by the
mask, or non-finite (NaN for missing atoms in :class:`protok.structures.ProteinChain`), are ignored.

Examples
--------
>>> import numpy as np
>>> from protok.metrics import rmsd
>>> x = np.random.default_rng(0).normal(size=(50, 3))
>>> round(rmsd(x + 3.0, x), 6)
0.0
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from protok.metrics._array import as_tensor, flatten_backbone, prepare_points, to_output

__all__ = ["backbone_rmsd", "ca_rmsd", "kabsch", "kabsch_align", "rmsd"]


def kabsch(mobile: Tensor, target: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted least-squares rigid superposition (no reflection), batched.

    Parameters
    ----------
    mobile, target : Tensor, shape=(..., M, 3)
    weights : Tensor, shape=(..., M)
        Non-negative point weights (0 for missing points). At least 3 non-collinear weighted points give a
        unique rotation; with fewer the rotation is still proper but not unique.

    Returns
    -------
    rotation : Tensor, shape=(..., 3, 3)
    translation : Tensor, shape=(..., 3)
        ``mobile @ rotation.T + translation`` is superposed on ``target``.
    """
    w = weights.to(mobile.dtype)
    wsum = w.sum(-1, keepdim=True).clamp_min(1e-12)
    cm = (w[..., None] * mobile).sum(-2) / wsum
    ct = (w[..., None] * target).sum(-2) / wsum
    pm = mobile - cm[..., None, :]
    pt = target - ct[..., None, :]
    cov = (w[..., None] * pm).transpose(-1, -2) @ pt  # (..., 3, 3) = sum_m w_m pm_m^T pt_m
    u, _, vh = torch.linalg.svd(cov)
    v = vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    diag = torch.ones(*d.shape, 3, dtype=mobile.dtype, device=mobile.device)
    diag[..., 2] = d
    rot = v @ (diag[..., None] * u.transpose(-1, -2))
    trans = ct - (rot @ cm[..., None])[..., 0]
    return rot, trans


def kabsch_align(mobile: Any, target: Any, mask: Any = None, weights: Any = None) -> tuple[Any, Any, Any]:
    """Superpose ``mobile`` onto ``target`` (least squares over the masked points).

    Parameters
    ----------
    mobile, target : ndarray or Tensor, shape=(..., M, 3)
    mask : ndarray or Tensor, shape=(..., M), dtype=bool, optional
    weights : ndarray or Tensor, shape=(..., M), optional
        Extra per-point weights, multiplied with the mask.

    Returns
    -------
    aligned : shape=(..., M, 3)
        All of ``mobile`` (masked points included) moved by the fitted rigid motion.
    rotation : shape=(..., 3, 3)
    translation : shape=(..., 3)
    """
    m_t, was_np = as_tensor(mobile)
    t_t, _ = as_tensor(target)
    dtype = torch.float64
    m_t, t_t = m_t.to(dtype), t_t.to(dtype=dtype, device=m_t.device)
    mask_t = None if mask is None else as_tensor(mask, torch.bool)[0]
    p, q, msk = prepare_points(m_t, t_t, mask_t)
    w = msk.to(dtype)
    if weights is not None:
        w = w * as_tensor(weights, dtype)[0].to(m_t.device)
    rot, trans = kabsch(p, q, w)
    aligned = m_t @ rot.transpose(-1, -2) + trans[..., None, :]
    return to_output(aligned, was_np), to_output(rot, was_np), to_output(trans, was_np)


def rmsd(pred: Any, ref: Any, mask: Any = None, align: bool = True) -> Any:
    """Root-mean-square deviation between two point sets, optionally after Kabsch superposition.

    Parameters
    ----------
    pred, ref : ndarray or Tensor, shape=(..., M, 3)
    mask : ndarray or Tensor, shape=(..., M), dtype=bool, optional
    align : bool
        Superpose ``pred`` onto ``ref`` first (default). False compares coordinates as given.

    Returns
    -------
    float or Tensor, shape=(...)
        In Å; NaN where no point is valid.
    """
    p_t, was_np = as_tensor(pred)
    r_t, _ = as_tensor(ref)
    p_t, r_t = p_t.to(torch.float64), r_t.to(dtype=torch.float64, device=p_t.device)
    mask_t = None if mask is None else as_tensor(mask, torch.bool)[0]
    p, q, msk = prepare_points(p_t, r_t, mask_t)
    w = msk.to(torch.float64)
    if align:
        rot, trans = kabsch(p, q, w)
        p = p @ rot.transpose(-1, -2) + trans[..., None, :]
    n = w.sum(-1)
    sq = ((p - q) ** 2).sum(-1)
    out = torch.sqrt((w * sq).sum(-1) / n)
    out = torch.where(n > 0, out, torch.full_like(out, float("nan")))
    return to_output(out, was_np)


def ca_rmsd(pred: Any, ref: Any, mask: Any = None, align: bool = True) -> Any:
    """CA RMSD of backbones.

    Parameters
    ----------
    pred, ref : shape=(..., L, 4, 3)
        Backbone atoms N, CA, C, O.
    mask : shape=(..., L) or (..., L, 4), dtype=bool, optional
        Residue or atom mask (only the CA column of an atom mask is used).

    Returns
    -------
    float or Tensor, shape=(...)
    """
    p_t, was_np = as_tensor(pred)
    r_t, _ = as_tensor(ref)
    mask_t = None if mask is None else as_tensor(mask, torch.bool)[0]
    if mask_t is not None and mask_t.shape == p_t.shape[:-1]:
        mask_t = mask_t[..., 1]
    out = rmsd(p_t[..., 1, :], r_t[..., 1, :], mask_t, align=align)
    return to_output(out, was_np)


def backbone_rmsd(pred: Any, ref: Any, mask: Any = None, align: bool = True) -> Any:
    """RMSD over all backbone atoms (N, CA, C, O), superposed on all of them.

    Parameters
    ----------
    pred, ref : shape=(..., L, A, 3)
    mask : shape=(..., L) or (..., L, A), dtype=bool, optional

    Returns
    -------
    float or Tensor, shape=(...)
    """
    p_t, was_np = as_tensor(pred)
    r_t, _ = as_tensor(ref)
    mask_t = None if mask is None else as_tensor(mask, torch.bool)[0]
    p_flat, m_flat = flatten_backbone(p_t, mask_t)
    r_flat, _ = flatten_backbone(r_t, None)
    out = rmsd(p_flat, r_flat, m_flat, align=align)
    return to_output(out, was_np)
