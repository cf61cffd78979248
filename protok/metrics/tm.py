"""TM-score for a fixed residue correspondence (pred residue i <-> ref residue i), numpy or batched torch.

The score is ``TM = max over superpositions of (1 / L_norm) * sum_i 1 / (1 + (d_i / d0)^2)`` with
``d0 = 1.24 * (L_norm - 15)^(1/3) - 1.8`` (floored at 0.5, and 0.5 for ``L_norm <= 21``, as in the TM-score
program), ``L_norm`` = number of valid reference residues.

The superposition search follows the TM-score program's heuristic: seeds are the full set and contiguous
fragments of length L/2, L/4, ... (at least 4) at half-overlapping offsets (at most 24 per length); each
seed is superposed (Kabsch), then iterated a few times on the residues closer than a cutoff
(``d0`` clamped to [4.5, 8] Å); the best few are refined with TM-weighted Kabsch (weights
``1 / (1 + (d/d0)^2)``); the best score over all states is returned. All seeds are
evaluated as one batched tensor operation. It agrees with TM-align run on the same fixed alignment
(``tmtools.tm_align(..., alignment=...)``) to about 1e-3 on real chains (see tests/metrics/test_tm.py).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from protok.metrics._array import as_tensor, prepare_points, to_output
from protok.metrics.rmsd import kabsch

__all__ = ["tm_d0", "tm_score"]


def tm_d0(length: Tensor | float) -> Tensor:
    """The TM-score distance scale d0 (Å) for a normalisation length.

    Parameters
    ----------
    length : float or Tensor, shape=(...)

    Returns
    -------
    Tensor, shape=(...)
    """
    n = torch.as_tensor(length, dtype=torch.float64)
    d0 = 1.24 * torch.clamp(n - 15.0, min=0.0).pow(1.0 / 3.0) - 1.8
    d0 = torch.where(n > 21, d0, torch.full_like(d0, 0.5))
    return d0.clamp_min(0.5)


def _seed_masks(m: int, device: torch.device, min_frag: int = 4, max_per_length: int = 24) -> Tensor:
    """Seeds as boolean masks, shape=(S, M): the full set, then fragments L/2, L/4, ... >= min_frag.

    Fragments start at half-overlapping offsets, at most ``max_per_length`` evenly spread starts per
    fragment length.
    """
    seeds = [torch.ones(m, dtype=torch.bool, device=device)]
    frag = m // 2
    idx = torch.arange(m, device=device)
    while frag >= min_frag:
        step = max(1, frag // 2)
        starts = list(range(0, m - frag + 1, step))
        if len(starts) > max_per_length:
            pick = torch.linspace(0, len(starts) - 1, max_per_length).round().long().tolist()
            starts = [starts[i] for i in pick]
        for start in starts:
            seeds.append((idx >= start) & (idx < start + frag))
        frag //= 2
    return torch.stack(seeds)


def _tm_terms(p: Tensor, q: Tensor, rot: Tensor, trans: Tensor, d0: Tensor) -> tuple[Tensor, Tensor]:
    moved = p @ rot.transpose(-1, -2) + trans[..., None, :]
    d = torch.linalg.norm(moved - q, dim=-1)
    return d, 1.0 / (1.0 + (d / d0[..., None]) ** 2)


def tm_score(
    pred: Any,
    ref: Any,
    mask: Any = None,
    *,
    norm_length: Any = None,
    n_iter: int = 4,
    n_refine: int = 4,
    n_best: int = 8,
) -> Any:
    """TM-score of ``pred`` against ``ref`` (fixed correspondence), normalised by the reference.

    Parameters
    ----------
    pred, ref : ndarray or Tensor, shape=(..., L, 3)
        One point per residue (CA). For backbones (..., L, 4, 3) pass ``x[..., 1, :]``.
    mask : ndarray or Tensor, shape=(..., L), dtype=bool, optional
        Valid residues (NaN coordinates are excluded automatically).
    norm_length : float or shape=(...), optional
        Length to normalise by (and to compute d0 from); default the number of valid residues.
    n_iter : int
        Cutoff-selection iterations per seed.
    n_refine : int
        TM-weighted Kabsch refinement iterations, for the ``n_best`` best seeds.
    n_best : int
        Number of seeds refined.

    Returns
    -------
    float or Tensor, shape=(...)
        In [0, 1]; NaN where no residue is valid.
    """
    p_t, was_np = as_tensor(pred)
    q_t, _ = as_tensor(ref)
    p_t, q_t = p_t.to(torch.float64), q_t.to(dtype=torch.float64, device=p_t.device)
    mask_t = None if mask is None else as_tensor(mask, torch.bool)[0]
    p, q, msk = prepare_points(p_t, q_t, mask_t)
    n_valid = msk.sum(-1).to(torch.float64)
    lnorm = n_valid if norm_length is None else as_tensor(norm_length, torch.float64)[0].to(p.device)
    lnorm = torch.broadcast_to(lnorm, n_valid.shape)
    d0 = tm_d0(lnorm).to(p.device)
    d_search = d0.clamp(4.5, 8.0)

    m = p.shape[-2]
    seeds = _seed_masks(m, p.device)  # (S, M)
    # add a seed axis: (..., S, M, 3)
    ps = p[..., None, :, :]
    qs = q[..., None, :, :]
    valid = msk[..., None, :]
    d0s, dss = d0[..., None], d_search[..., None]
    sel = seeds & valid
    w = sel.to(torch.float64)
    best = torch.zeros(sel.shape[:-1], dtype=torch.float64, device=p.device)
    for _ in range(n_iter):
        rot, trans = kabsch(ps, qs, w)
        d, terms = _tm_terms(ps, qs, rot, trans, d0s)
        best = torch.maximum(best, (terms * valid).sum(-1))
        new_sel = (d < dss[..., None]) & valid
        enough = new_sel.sum(-1, keepdim=True) >= 3
        sel = torch.where(enough, new_sel, sel)
        w = sel.to(torch.float64)
    # TM-weighted refinement of the ``n_best`` most promising seeds only
    k = min(n_best, best.shape[-1])
    top = best.topk(k, dim=-1).indices  # (..., k)
    gather = top[..., None].expand(*top.shape, m)
    w = torch.gather(terms * valid, -2, gather)
    best_ref = torch.zeros(top.shape, dtype=torch.float64, device=p.device)
    for _ in range(n_refine):
        rot, trans = kabsch(ps, qs, w)
        _, t_new = _tm_terms(ps, qs, rot, trans, d0s)
        w = t_new * valid
        best_ref = torch.maximum(best_ref, w.sum(-1))
    best = torch.cat([best, best_ref], dim=-1)
    score = best.max(-1).values / lnorm.clamp_min(1.0)
    score = torch.where(n_valid > 0, score, torch.full_like(score, math.nan))
    return to_output(score, was_np)
