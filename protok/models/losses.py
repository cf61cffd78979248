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
* :func:`local_geometry_loss` (optional, ``local_weight``) - the backbone's local geometry between
  bonded residues: squared errors of (cos, sin) of psi, omega and phi and of the C-N and CA-CA distances.
* :func:`violation_loss` (optional, ``violation_weight``) - physical validity alone, whatever the target:
  bonded CA-CA distances outside 3.8 ± 0.2 Å and non-bonded CA-CA closer than 3.6 Å (squared hinge).
* The distance and FAPE terms can phase in an unclamped share (``unclamped_share`` reached linearly between
  ``unclamped_start`` and ``unclamped_end``, fractions of training): clamps help early, when most pairs are
  far off, and stop helping once the fold is roughly right.
* :func:`aligned_rmsd_loss` (optional, ``aligned_weight``) - backbone RMSD after Kabsch superposition
  (a proper rotation, so a mirror image is penalised), per complex. The optimal superposition is computed
  without gradient; by the envelope theorem the gradient is still exact. Unclamped: every atom gets a
  gradient, so it breaks the mirror-image local minimum that pure distance losses fall into.

All are invariant to rigid motions of prediction or target, so the decoder's global pose is free. Pairs
are taken within one complex (batch item); ``inter_chain=False`` restricts them to the same chain. Cost is
O(B * L^2) memory: fine for training crops of up to ~512 residues.

:class:`LossConfig` also weighs two optional terms on the tokens themselves, computed by the model: their
consistency under coordinate noise (:mod:`protok.models.consistency`) and the token-local head
(:mod:`protok.models.token_local`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from protok.errors import ConfigError
from protok.graph.features import dihedral_xy
from protok.models.decoder import DecoderOutput, segment_ids

__all__ = [
    "LossConfig",
    "aligned_rmsd_loss",
    "backbone_direction_loss",
    "backbone_direction_vectors",
    "backbone_distance_loss",
    "bonded_next",
    "dihedral_cos_sin",
    "distogram_bins",
    "distogram_loss",
    "fape_loss",
    "frames_from_backbone",
    "local_geometry_loss",
    "masked_mean",
    "unclamped_share",
    "violation_loss",
    "reconstruction_losses",
]


@dataclass(frozen=True)
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
    local_weight : float
        Weight of :func:`local_geometry_loss` (0 = off).
    violation_weight : float
        Weight of :func:`violation_loss` (0 = off).
    unclamped_share : float
        Final share of the unclamped distance and FAPE errors (0 = always clamped).
    unclamped_start, unclamped_end : float
        Fractions of training over which that share rises linearly from 0.
    consistency_weight : float
        Weight of the token consistency term under coordinate noise (training only; 0 = off, no extra
        encoder pass; :mod:`protok.models.consistency`).
    consistency_noise : float
        Standard deviation (Å) of the Gaussian noise on every backbone atom of the noisy copy.
    token_local_weight : float
        Weight of the token-local head's loss (0 = off, no head; :mod:`protok.models.token_local`).
    token_local_hidden : int
        Hidden width of the token-local head.
    token_local_window : int
        W: the token-local head also predicts the CA distances from residue i to i±2 .. i±W (< 2 = not;
        :mod:`protok.models.token_local`), under the same weight.
    token_local_span : bool
        With a window, the head also predicts the span distances CA(i-k)-CA(i+k), k = 2 .. W (CA(i-2)-CA(i+2)
        fixes DSSP's bend angle at i).
    token_local_dssp : bool
        The head also predicts DSSP's local criteria around residue i, computed from the coordinates (the
        3-, 4- and 5-turn H-bonds over i and whether i is a bend; :mod:`protok.models.token_local`).
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
    local_weight: float = 0.0
    violation_weight: float = 0.0
    unclamped_share: float = 0.0
    unclamped_start: float = 0.3
    unclamped_end: float = 0.6
    consistency_weight: float = 0.0
    consistency_noise: float = 0.1
    token_local_weight: float = 0.0
    token_local_hidden: int = 128
    token_local_window: int = 0
    token_local_span: bool = False
    token_local_dssp: bool = False

    def __post_init__(self) -> None:
        for name in ("consistency_weight", "consistency_noise", "token_local_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"LossConfig: {name} must be >= 0, got {getattr(self, name)}")
        if self.token_local_hidden < 1:
            raise ConfigError(f"LossConfig: token_local_hidden must be >= 1, got {self.token_local_hidden}")
        if self.token_local_window < 0:
            raise ConfigError(f"LossConfig: token_local_window must be >= 0, got {self.token_local_window}")
        if self.token_local_span and self.token_local_window < 2:
            raise ConfigError(
                f"LossConfig: token_local_span needs token_local_window >= 2, got {self.token_local_window}"
            )


def unclamped_share(config: LossConfig, progress: float) -> float:
    """The unclamped share of the distance and FAPE errors at ``progress`` (fraction of training)."""
    if config.unclamped_share <= 0 or progress <= config.unclamped_start:
        return 0.0
    span = max(config.unclamped_end - config.unclamped_start, 1e-9)
    return config.unclamped_share * min(1.0, (progress - config.unclamped_start) / span)


def _soft_clamp(err: Tensor, clamp: float, share: float) -> Tensor:
    """``(1 - share) * min(err, clamp) + share * err``."""
    clamped = err.clamp(max=clamp)
    return clamped if share <= 0 else (1.0 - share) * clamped + share * err


def _pair_mask(mask: Tensor, chain_idx: Tensor | None, inter_chain: bool) -> Tensor:
    """(B, M) validity -> (B, M, M) pair validity, optionally same chain only, without the diagonal."""
    pm = mask[:, :, None] & mask[:, None, :]
    if not inter_chain and chain_idx is not None:
        pm = pm & (chain_idx[:, :, None] == chain_idx[:, None, :])
    eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    return pm & ~eye


def masked_mean(x: Tensor, m: Tensor) -> Tensor:
    """Mean of ``x`` where the bool mask ``m`` (same shape) is True; 0 when it is nowhere True."""
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
    share: float = 0.0,
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
    share : float
        Unclamped share of each error (see :func:`unclamped_share`).

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
    err = _soft_clamp((dp - dt).pow(2), clamp, share)
    return masked_mean(err, pm)


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
    return masked_mean(err, pm)


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
    return masked_mean(ce, pm)


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
    share: float = 0.0,
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
    share : float
        Unclamped share of each error (see :func:`unclamped_share`).

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
    err = _soft_clamp(torch.sqrt((p_local - t_local).pow(2).sum(-1) + 1e-8), clamp, share) / length_scale
    m = frame_ok[:, :, None] & atom_mask.reshape(b, 1, n * a)
    if not inter_chain and chain_idx is not None:
        ch_atoms = chain_idx[:, :, None].expand(b, n, a).reshape(b, 1, n * a)
        m = m & (chain_idx[:, :, None] == ch_atoms)
    return masked_mean(err, m)


def bonded_next(atom_mask: Tensor, chain_idx: Tensor, chain_break: Tensor) -> Tensor:
    """(B, L) bool: residue i is bonded to i + 1 (same segment, N, CA, C of both present)."""
    seg = segment_ids(chain_idx, chain_break)
    full = atom_mask[..., :3].all(-1)
    ok = torch.zeros_like(full)
    ok[:, :-1] = (seg[:, 1:] == seg[:, :-1]) & full[:, :-1] & full[:, 1:]
    return ok


def dihedral_cos_sin(p0: Tensor, p1: Tensor, p2: Tensor, p3: Tensor) -> Tensor:
    """(cos, sin) of dihedrals ``p0-p1-p2-p3``, shape (..., 2), without atan2 (smooth gradients)."""
    x, y = dihedral_xy(p0, p1, p2, p3)
    return torch.stack([x, y], -1) / torch.sqrt(x * x + y * y + 1e-8)[..., None]


def _local_geometry(x: Tensor) -> tuple[Tensor, Tensor]:
    """Bonded-pair geometry of a backbone (B, L, 4, 3): dihedrals (B, L-1, 3, 2) and distances (B, L-1, 2)."""
    n, ca, c = x[..., 0, :], x[..., 1, :], x[..., 2, :]
    n1, ca1, c1 = n[:, 1:], ca[:, 1:], c[:, 1:]
    n, ca, c = n[:, :-1], ca[:, :-1], c[:, :-1]
    angles = torch.stack(
        [
            dihedral_cos_sin(n, ca, c, n1),  # psi_i
            dihedral_cos_sin(ca, c, n1, ca1),  # omega
            dihedral_cos_sin(c, n1, ca1, c1),  # phi_{i+1}
        ],
        dim=-2,
    )
    dists = torch.stack([(n1 - c).norm(dim=-1), (ca1 - ca).norm(dim=-1)], dim=-1)
    return angles, dists


def local_geometry_loss(
    pred: Tensor, target: Tensor, atom_mask: Tensor, chain_idx: Tensor, chain_break: Tensor
) -> Tensor:
    """Squared errors of the bonded-pair geometry: (cos, sin) of psi, omega, phi and the C-N and CA-CA
    distances (Å), mean over bonded pairs.

    Parameters
    ----------
    pred, target : Tensor, shape=(B, L, 4, 3)
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool

    Returns
    -------
    Tensor, scalar
    """
    if pred.shape[1] < 2:
        return pred.sum() * 0.0
    ok = bonded_next(atom_mask, chain_idx, chain_break)[:, :-1]
    ang_p, dist_p = _local_geometry(pred)
    with torch.no_grad():
        ang_t, dist_t = _local_geometry(target)
    err = (ang_p - ang_t).pow(2).sum((-1, -2)) + (dist_p - dist_t).pow(2).sum(-1)
    return masked_mean(err, ok)


def violation_loss(
    pred: Tensor,
    atom_mask: Tensor,
    chain_idx: Tensor,
    chain_break: Tensor,
    *,
    ca_ca: float = 3.8,
    tolerance: float = 0.2,
    clash: float = 3.6,
) -> Tensor:
    """Physical validity of a predicted backbone alone: bonded CA-CA outside ``ca_ca ± tolerance`` and
    non-bonded CA-CA pairs closer than ``clash`` (Å), squared hinge; bonded term mean over bonded pairs
    plus clash term mean over non-bonded pairs.

    Parameters
    ----------
    pred : Tensor, shape=(B, L, 4, 3)
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool

    Returns
    -------
    Tensor, scalar
    """
    ca = pred[..., 1, :]
    ok = bonded_next(atom_mask, chain_idx, chain_break)
    bonded = (ca[:, 1:] - ca[:, :-1]).norm(dim=-1)
    bond_err = F.relu((bonded - ca_ca).abs() - tolerance).pow(2)
    has_ca = atom_mask[..., 1]
    pm = _pair_mask(has_ca, None, True)
    near = torch.zeros_like(pm)
    idx = torch.arange(pm.shape[1] - 1, device=pm.device)
    near[:, idx, idx + 1] = ok[:, :-1]
    near[:, idx + 1, idx] = ok[:, :-1]
    d = torch.cdist(ca, ca)
    clash_err = F.relu(clash - d).pow(2)
    return masked_mean(bond_err, ok[:, :-1]) + masked_mean(clash_err, pm & ~near)


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
    progress: float = 1.0,
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
    progress : float
        Fraction of training done (phases in the unclamped share).

    Returns
    -------
    total : Tensor, scalar
    terms : dict of str to Tensor
        ``distance`` and (if their weights are > 0) ``direction``, ``aligned_rmsd``, ``fape``,
        ``distogram``, ``local`` and ``violation``, unweighted.
    """
    share = unclamped_share(config, progress)
    target = torch.where(
        atom_mask[..., None], target, torch.zeros((), dtype=target.dtype, device=target.device)
    )
    pred = out.coords.to(target.dtype)
    terms: dict[str, Tensor] = {
        "distance": backbone_distance_loss(
            pred,
            target,
            atom_mask,
            chain_idx,
            clamp=config.distance_clamp,
            inter_chain=config.inter_chain,
            share=share,
        ),
    }
    total = config.distance_weight * terms["distance"]
    if config.direction_weight > 0:  # (6L)^2 vector pairs: skipped, not computed at weight 0
        terms["direction"] = backbone_direction_loss(
            pred,
            target,
            atom_mask,
            chain_idx,
            chain_break,
            clamp=config.direction_clamp,
            inter_chain=config.inter_chain,
        )
        total = total + config.direction_weight * terms["direction"]
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
            share=share,
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
    if config.local_weight > 0:
        terms["local"] = local_geometry_loss(pred, target, atom_mask, chain_idx, chain_break)
        total = total + config.local_weight * terms["local"]
    if config.violation_weight > 0:
        terms["violation"] = violation_loss(pred, atom_mask, chain_idx, chain_break)
        total = total + config.violation_weight * terms["violation"]
    return total, terms
