"""lDDT on CA atoms (superposition-free), numpy or batched torch.

For every pair of distinct valid residues whose *reference* CA-CA distance is below ``cutoff`` (15 Å), the
distance difference ``|d_pred - d_ref|`` is compared with the thresholds 0.5, 1, 2 and 4 Å; the score is the
fraction of preserved (pair, threshold) combinations. The global score pools all pairs (as in Mariani et
al. 2013 and AlphaFold's ``lddt``); ``per_residue=True`` gives each residue's own score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from protok.metrics._array import as_tensor, prepare_points, to_output

__all__ = ["LDDT_THRESHOLDS", "lddt_ca"]

#: Distance-difference thresholds (Å) of lDDT.
LDDT_THRESHOLDS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)


def lddt_ca(
    pred: Any,
    ref: Any,
    mask: Any = None,
    *,
    cutoff: float = 15.0,
    thresholds: Sequence[float] = LDDT_THRESHOLDS,
    per_residue: bool = False,
) -> Any:
    """lDDT-CA of ``pred`` against ``ref``.

    Parameters
    ----------
    pred, ref : ndarray or Tensor, shape=(..., L, 3)
        CA coordinates (for backbones pass ``x[..., 1, :]``).
    mask : ndarray or Tensor, shape=(..., L), dtype=bool, optional
    cutoff : float
        Inclusion radius in the reference (Å).
    thresholds : sequence of float
    per_residue : bool
        Return shape (..., L) per-residue scores (NaN for residues without neighbours) instead.

    Returns
    -------
    float or Tensor, shape=(...) or (..., L)
        In [0, 1]; NaN where no pair is scored.
    """
    p_t, was_np = as_tensor(pred)
    q_t, _ = as_tensor(ref)
    p_t, q_t = p_t.to(torch.float64), q_t.to(dtype=torch.float64, device=p_t.device)
    mask_t = None if mask is None else as_tensor(mask, torch.bool)[0]
    p, q, msk = prepare_points(p_t, q_t, mask_t)
    d_ref = torch.cdist(q, q)
    d_pred = torch.cdist(p, p)
    n = p.shape[-2]
    eye = torch.eye(n, dtype=torch.bool, device=p.device)
    pair = msk[..., :, None] & msk[..., None, :] & ~eye & (d_ref < cutoff)
    diff = (d_pred - d_ref).abs()
    thr = torch.as_tensor(list(thresholds), dtype=torch.float64, device=p.device)
    kept = (diff[..., None] < thr).to(torch.float64).mean(-1)  # (..., L, L)
    pair_f = pair.to(torch.float64)
    if per_residue:
        num = (kept * pair_f).sum(-1)
        den = pair_f.sum(-1)
    else:
        num = (kept * pair_f).sum((-1, -2))
        den = pair_f.sum((-1, -2))
    out = torch.where(den > 0, num / den.clamp_min(1.0), torch.full_like(num, float("nan")))
    return to_output(out, was_np)
