"""Reconstruction losses of the backbone decoder (ESM3 recipe), masked and per complex.

* :func:`backbone_distance_loss` - squared error of all pairwise backbone-atom distances, each term
  clamped at ``distance_clamp`` (25 Å², i.e. 5 Å), averaged over valid atom pairs.
* :func:`backbone_direction_loss` - the six unit vectors per residue (N->CA, CA->C, C->N(next), and the
  normals at CA, N and C); squared error of all their pairwise dot products, each term clamped at
  ``direction_clamp`` (20), averaged over valid vector pairs. Vectors that need a neighbouring residue are
  valid only inside one contiguous segment (same chain, no break between).
* :func:`distogram_loss` - cross-entropy of binned CA-CA distances (``n_dist_bins`` = 64).
* :func:`fape_loss` (optional, ``fape_weight``) - AlphaFold2's backbone frame-aligned point error: every
  backbone atom j seen from every residue frame i, predicted vs true, error clamped at ``fape_clamp``
  (10 Å) and divided by 10. Unlike the clamped distance loss it gives every residue a gradient from the
  first step, which speeds up early training a lot.
* :func:`aligned_rmsd_loss` (optional, ``aligned_weight``) - backbone RMSD after Kabsch superposition
  (a proper rotation, so a mirror image is penalised), per complex. The optimal superposition is computed
  without gradient; by the envelope theorem the gradient is still exact. Unclamped: every atom gets a
  gradient, so it breaks the mirror-image local minimum that pure distance losses fall into.

All are invariant to rigid motions of prediction or target, so the decoder's global pose is free. Pairs
are taken within one complex (batch item); ``inter_chain=False`` restricts them to the same chain. Cost is
O(B * L^2) memory: fine for training crops of up to ~512 residues.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from protok.models.decoder import DecoderOutput, segment_ids

__all__ = [
    "LossConfig",
    "aligned_rmsd_loss",
    "backbone_direction_loss",
    "backbone_direction_vectors",
    "backbone_distance_loss",
    "distogram_bins",
    "distogram_loss",
    "fape_loss",
    "frames_from_backbone",
    "reconstruction_losses",
]


@dataclass
class LossConfig:
    """Weights and constants of the reconstruction losses.

    Attributes
    ----------
    distance_weight, direction_weight, distogram_weight : float
        Weights of the three terms in the total.
    quantizer_weight : float
        Weight of the quantizer's own loss (commitment, codebook, ...).
    distance_clamp : float
        Clamp (Å²) of each squared distance error.
    direction_clamp : float
        Clamp of each squared dot-product error.
    n_dist_bins : int
        Distogram bins (must equal the decoder's).
    dist_min, dist_max : float
        Inner bin edges range (Å), as the decoder's.
    fape_weight : float
        Weight of the backbone FAPE term (0 = off).
    fape_clamp : float
        FAPE error clamp (Å).
    aligned_weight : float
        Weight of the Kabsch-aligned backbone RMSD term (0 = off).
    inter_chain : bool
        Include pairs between different chains of a complex.
    """

    distance_weight: float = 1.0
    direction_weight: float = 1.0
    distogram_weight: float = 0.5
    quantizer_weight: float = 1.0
    distance_clamp: float = 25.0
    direction_clamp: float = 20.0
    n_dist_bins: int = 64
    dist_min: float = 2.3125
    dist_max: float = 21.6875
    fape_weight: float = 1.0
    fape_clamp: float = 10.0
    aligned_weight: float = 1.0
    inter_chain: bool = True


def _pair_mask(mask: Tensor, chain_idx: Tensor | None, inter_chain: bool) -> Tensor:
    """(B, M) validity -> (B, M, M) pair validity, optionally same chain only, without the diagonal."""
    pm = mask[:, :, None] & mask[:, None, :]
    if not inter_chain and chain_idx is not None:
        pm = pm & (chain_idx[:, :, None] == chain_idx[:, None, :])
    eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    return pm & ~eye


def _masked_mean(x: Tensor, m: Tensor) -> Tensor:
    m = m.to(x.dtype)
    return (x * m).sum() / m.sum().clamp_min(1.0)


def backbone_distance_loss(
    pred: Tensor,
    target: Tensor,
    atom_mask: Tensor,
    chain_idx: Tensor | None = None,
    *,
    clamp: float = 25.0,
    inter_chain: bool = True,
) -> Tensor:
    """Clamped MSE of all pairwise backbone-atom distances.

    Parameters
    ----------
    pred, target : Tensor, shape=(B, L, A, 3)
    atom_mask : Tensor, shape=(B, L, A), dtype=bool
        Present target atoms (False for padding).
    chain_idx : Tensor, shape=(B, L), dtype=long, optional
        Needed when ``inter_chain`` is False.
    clamp : float
    inter_chain : bool

    Returns
    -------
    Tensor, scalar
    """
    b, n, a, _ = pred.shape
    p = pred.reshape(b, n * a, 3)
    t = target.reshape(b, n * a, 3)
    m = atom_mask.reshape(b, n * a)
    ch = None if chain_idx is None else chain_idx[:, :, None].expand(b, n, a).reshape(b, n * a)
    pm = _pair_mask(m, ch, inter_chain)
    dp = torch.cdist(p, p)
    with torch.no_grad():
        dt = torch.cdist(t, t)
    err = (dp - dt).pow(2).clamp(max=clamp)
    return _masked_mean(err, pm)


def backbone_direction_vectors(
    coords: Tensor, atom_mask: Tensor, chain_idx: Tensor, chain_break: Tensor
) -> tuple[Tensor, Tensor]:
    """The six ESM3 backbone unit vectors per residue and their validity.

    Vectors: N->CA, CA->C, C->N(i+1), n_CA = -(N->CA x CA->C), n_N = (C(i-1)->N x N->CA),
    n_C = (CA->C x C->N(i+1)).

    Parameters
    ----------
    coords : Tensor, shape=(B, L, 4, 3)
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool

    Returns
    -------
    vectors : Tensor, shape=(B, L, 6, 3)
    valid : Tensor, shape=(B, L, 6), dtype=bool
    """
    n_at, ca, c = coords[..., 0, :], coords[..., 1, :], coords[..., 2, :]
    mn, mca, mc = atom_mask[..., 0], atom_mask[..., 1], atom_mask[..., 2]
    seg = segment_ids(chain_idx, chain_break)
    # bonded to the next residue: same segment and both atoms present
    nxt_ok = torch.zeros_like(mn)
    nxt_ok[:, :-1] = (seg[:, 1:] == seg[:, :-1]) & mc[:, :-1] & mn[:, 1:]
    prv_ok = torch.zeros_like(mn)
    prv_ok[:, 1:] = nxt_ok[:, :-1]
    n_next = torch.roll(n_at, -1, dims=1)
    c_prev = torch.roll(c, 1, dims=1)
    v_nca = ca - n_at
    v_cac = c - ca
    v_cn = n_next - c
    v_prev = n_at - c_prev
    vecs = torch.stack(
        [
            v_nca,
            v_cac,
            v_cn,
            -torch.cross(v_nca, v_cac, dim=-1),
            torch.cross(v_prev, v_nca, dim=-1),
            torch.cross(v_cac, v_cn, dim=-1),
        ],
        dim=-2,
    )
    valid = torch.stack(
        [
            mn & mca,
            mca & mc,
            nxt_ok,
            mn & mca & mc,
            prv_ok & mn & mca,
            nxt_ok & mca & mc,
        ],
        dim=-1,
    )
    norm = vecs.norm(dim=-1, keepdim=True)
    vecs = vecs / norm.clamp_min(1e-6)
    valid = valid & (norm[..., 0] > 1e-6)
    return vecs, valid


def backbone_direction_loss(
    pred: Tensor,
    target: Tensor,
    atom_mask: Tensor,
    chain_idx: Tensor,
    chain_break: Tensor,
    *,
    clamp: float = 20.0,
    inter_chain: bool = True,
) -> Tensor:
    """Clamped MSE of all pairwise dot products of the six backbone unit vectors.

    Parameters
    ----------
    pred, target : Tensor, shape=(B, L, 4, 3)
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool
    clamp : float
    inter_chain : bool

    Returns
    -------
    Tensor, scalar
    """
    vp, _ = backbone_direction_vectors(pred, atom_mask, chain_idx, chain_break)
    with torch.no_grad():
        vt, valid = backbone_direction_vectors(target, atom_mask, chain_idx, chain_break)
    b, n = valid.shape[:2]
    vp = vp.reshape(b, n * 6, 3)
    vt = vt.reshape(b, n * 6, 3)
    m = valid.reshape(b, n * 6)
    ch = chain_idx[:, :, None].expand(b, n, 6).reshape(b, n * 6)
    pm = _pair_mask(m, ch, inter_chain)
    err = (vp @ vp.transpose(1, 2) - vt @ vt.transpose(1, 2)).pow(2).clamp(max=clamp)
    return _masked_mean(err, pm)


def distogram_bins(
    n_bins: int, dist_min: float, dist_max: float, device: torch.device | None = None
) -> Tensor:
    """Inner bin edges (n_bins - 1,) in Å; bin 0 is below ``dist_min``, the last above ``dist_max``."""
    return torch.linspace(dist_min, dist_max, n_bins - 1, device=device)


def distogram_loss(
    logits: Tensor,
    target_ca: Tensor,
    mask: Tensor,
    chain_idx: Tensor | None = None,
    *,
    dist_min: float = 2.3125,
    dist_max: float = 21.6875,
    inter_chain: bool = True,
) -> Tensor:
    """Cross-entropy of binned CA-CA distances.

    Parameters
    ----------
    logits : Tensor, shape=(B, L, L, n_bins)
    target_ca : Tensor, shape=(B, L, 3)
    mask : Tensor, shape=(B, L), dtype=bool
        Residues with a CA.
    chain_idx : Tensor, shape=(B, L), optional
    dist_min, dist_max : float
    inter_chain : bool

    Returns
    -------
    Tensor, scalar
    """
    n_bins = logits.shape[-1]
    edges = distogram_bins(n_bins, dist_min, dist_max, logits.device)
    with torch.no_grad():
        d = torch.cdist(target_ca, target_ca)
        labels = torch.bucketize(d, edges)
    pm = _pair_mask(mask, chain_idx, inter_chain)
    ce = F.cross_entropy(logits.reshape(-1, n_bins), labels.reshape(-1), reduction="none").view(labels.shape)
    return _masked_mean(ce, pm)


def frames_from_backbone(coords: Tensor, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Residue frames of a backbone (x along CA->C, N in the xy-plane; as :mod:`protok.graph`).

    Parameters
    ----------
    coords : Tensor, shape=(..., 4, 3) or (..., 3, 3)
        N, CA, C (, O).

    Returns
    -------
    rotation : Tensor, shape=(..., 3, 3)
        Columns = local axes.
    translation : Tensor, shape=(..., 3)
        CA.
    """
    from protok.models.decoder import gram_schmidt

    n, ca, c = coords[..., 0, :], coords[..., 1, :], coords[..., 2, :]
    return gram_schmidt(c - ca, n - ca, eps), ca


def fape_loss(
    pred_rot: Tensor,
    pred_trans: Tensor,
    pred: Tensor,
    target: Tensor,
    atom_mask: Tensor,
    chain_idx: Tensor | None = None,
    *,
    clamp: float = 10.0,
    length_scale: float = 10.0,
    inter_chain: bool = True,
) -> Tensor:
    """Backbone frame-aligned point error (AlphaFold2), clamped.

    Parameters
    ----------
    pred_rot : Tensor, shape=(B, L, 3, 3)
    pred_trans : Tensor, shape=(B, L, 3)
        Predicted frames.
    pred, target : Tensor, shape=(B, L, A, 3)
        Predicted and true atoms (true frames are built from ``target``'s N, CA, C).
    atom_mask : Tensor, shape=(B, L, A), dtype=bool
    chain_idx : Tensor, shape=(B, L), optional
    clamp, length_scale : float
    inter_chain : bool

    Returns
    -------
    Tensor, scalar
    """
    b, n, a, _ = pred.shape
    with torch.no_grad():
        t_rot, t_trans = frames_from_backbone(target)
        frame_ok = atom_mask[..., :3].all(-1)
        # local coordinates of every atom j in every frame i: (B, L_i, L_j*A, 3)
        t_pts = target.reshape(b, 1, n * a, 3) - t_trans[:, :, None, :]
        t_local = torch.einsum("bidk,bimd->bimk", t_rot, t_pts)
    p_pts = pred.reshape(b, 1, n * a, 3) - pred_trans[:, :, None, :]
    p_local = torch.einsum("bidk,bimd->bimk", pred_rot, p_pts)
    err = torch.sqrt((p_local - t_local).pow(2).sum(-1) + 1e-8).clamp(max=clamp) / length_scale
    m = frame_ok[:, :, None] & atom_mask.reshape(b, 1, n * a)
    if not inter_chain and chain_idx is not None:
        ch_atoms = chain_idx[:, :, None].expand(b, n, a).reshape(b, 1, n * a)
        m = m & (chain_idx[:, :, None] == ch_atoms)
    return _masked_mean(err, m)


def aligned_rmsd_loss(pred: Tensor, target: Tensor, atom_mask: Tensor) -> Tensor:
    """Backbone RMSD after optimal proper superposition of ``pred`` onto ``target``, mean over complexes.

    Parameters
    ----------
    pred, target : Tensor, shape=(B, L, A, 3)
    atom_mask : Tensor, shape=(B, L, A), dtype=bool

    Returns
    -------
    Tensor, scalar
    """
    from protok.metrics.rmsd import kabsch

    b = pred.shape[0]
    p = pred.reshape(b, -1, 3)
    t = target.reshape(b, -1, 3)
    w = atom_mask.reshape(b, -1).to(p.dtype)
    with torch.no_grad():
        rot, trans = kabsch(p.detach().double(), t.double(), w.double())
    moved = p @ rot.to(p.dtype).transpose(-1, -2) + trans.to(p.dtype)[:, None, :]
    sq = ((moved - t) ** 2).sum(-1)
    n = w.sum(-1)
    per = torch.sqrt((sq * w).sum(-1) / n.clamp_min(1.0) + 1e-6)
    has = n > 0
    return per[has].mean() if bool(has.any()) else per.sum() * 0.0


def reconstruction_losses(
    out: DecoderOutput,
    target: Tensor,
    atom_mask: Tensor,
    chain_idx: Tensor,
    chain_break: Tensor,
    config: LossConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """All reconstruction terms and their weighted sum.

    Parameters
    ----------
    out : DecoderOutput
        Dense decoder output (``distogram_logits`` needed when ``distogram_weight > 0``).
    target : Tensor, shape=(B, L, 4, 3)
        Target backbone (any value where ``atom_mask`` is False).
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
        False for missing atoms and for padding.
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool
    config : LossConfig

    Returns
    -------
    total : Tensor, scalar
    terms : dict of str to Tensor
        ``distance``, ``direction`` and (if used) ``distogram`` and ``fape``, unweighted.
    """
    target = torch.where(
        atom_mask[..., None], target, torch.zeros((), dtype=target.dtype, device=target.device)
    )
    pred = out.coords.to(target.dtype)
    terms: dict[str, Tensor] = {
        "distance": backbone_distance_loss(
            pred, target, atom_mask, chain_idx, clamp=config.distance_clamp, inter_chain=config.inter_chain
        ),
        "direction": backbone_direction_loss(
            pred,
            target,
            atom_mask,
            chain_idx,
            chain_break,
            clamp=config.direction_clamp,
            inter_chain=config.inter_chain,
        ),
    }
    total = config.distance_weight * terms["distance"] + config.direction_weight * terms["direction"]
    if config.aligned_weight > 0:
        terms["aligned_rmsd"] = aligned_rmsd_loss(pred, target, atom_mask)
        total = total + config.aligned_weight * terms["aligned_rmsd"]
    if config.fape_weight > 0:
        terms["fape"] = fape_loss(
            out.rotation.to(target.dtype),
            out.translation.to(target.dtype),
            pred,
            target,
            atom_mask,
            chain_idx,
            clamp=config.fape_clamp,
            inter_chain=config.inter_chain,
        )
        total = total + config.fape_weight * terms["fape"]
    if config.distogram_weight > 0:
        if out.distogram_logits is None:
            raise ValueError("distogram_weight > 0 but the decoder output has no distogram logits")
        terms["distogram"] = distogram_loss(
            out.distogram_logits,
            target[..., 1, :],
            atom_mask[..., 1],
            chain_idx,
            dist_min=config.dist_min,
            dist_max=config.dist_max,
            inter_chain=config.inter_chain,
        )
        total = total + config.distogram_weight * terms["distogram"]
    return total, terms
