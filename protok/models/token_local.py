"""Token-local head: each residue's own token predicts its local backbone conformation.

The decoder sees all tokens at once, so nothing forces a single token to hold its own residue's local
conformation (Foldseek's 3Di alphabet is built for exactly that). With ``loss.token_local_weight > 0`` a
small MLP (:class:`TokenLocalHead`) reads each residue's decoder input vector alone (its code vector, or
ProVQ's mix of latent and code while the hardness rises) and predicts (cos, sin) of five angles around
residue i (:data:`TOKEN_LOCAL_ANGLES`):

============  ==============================  ======================
angle         atoms                           needs the bonds
============  ==============================  ======================
phi_i         C(i-1) N(i) CA(i) C(i)          i-1 to i
psi_i         N(i) CA(i) C(i) N(i+1)          i to i+1
omega_i       CA(i) C(i) N(i+1) CA(i+1)       i to i+1
ca_angle_i    CA(i-1) CA(i) CA(i+1)           i-1 to i to i+1
ca_dihedral_i CA(i-1) CA(i) CA(i+1) CA(i+2)   i-1 to i+2
============  ==============================  ======================

phi, psi and omega as :func:`biotite.structure.dihedral_backbone` assigns them (omega_i is the peptide bond
after residue i), the CA virtual angle and dihedral as :func:`protok.bench.adapters.local_geometry_features`.
An angle whose atoms cross a chain end or break, or need a residue without N, CA or C, is masked out.
The loss (:func:`token_local_loss`) is the squared error of each predicted (cos, sin) pair, mean over valid
angles.

With ``loss.token_local_window = W`` (>= 2) the head also predicts the CA(i)-CA(i+k) distances for
``k = ±2 .. ±W`` (:func:`token_window_offsets`; in units of :data:`WINDOW_DISTANCE_SCALE`), masked unless every
bond from i to i+k exists: the conformation of the stretch around residue i that secondary structure is made
of (3Di's and the benchmark's random control describe a residue by such a window), not only its own angles.
With ``loss.token_local_span`` as well, it predicts the span distances CA(i-k)-CA(i+k) for ``k = 2 .. W``
(:func:`token_window_targets`): CA(i-2)-CA(i+2) fixes DSSP's bend angle at residue i (kappa, the angle between
CA(i-2)->CA(i) and CA(i)->CA(i+2); a bend is kappa > 70 degrees), which the distances from i alone leave open,
and the longer spans tell a helix (about 10 Å over i±4) from a strand (about 25 Å). Their loss
(:func:`token_window_loss`) is the squared error, mean over valid distances.

With ``loss.token_local_dssp`` it also predicts, as probabilities, DSSP's local criteria around residue i
(Kabsch & Sander 1983), computed from the backbone coordinates as DSSP computes them
(:func:`dssp_local_targets`): each n-turn (n = 3, 4, 5: an H-bond from the C=O of residue s to the N-H of
s + n, electrostatic energy below -0.5 kcal/mol) whose span s .. s + n holds residue i, and whether residue
i is a bend (the angle between CA(i-2)->CA(i) and CA(i)->CA(i+2) above 70 degrees). Turns and bends are what
DSSP's T, S, G and the ends of helices are made of, and a distance regression gives no sharp edge at their
thresholds. Their loss (:func:`token_dssp_loss`) is the binary cross-entropy, turns and bends weighing
alike. The structure's own DSSP annotations are never read.

The head is a training aid: :class:`~protok.models.model.ProtokModel` builds it for training only,
and released weights leave it out.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from protok.graph.frames import normalize
from protok.models.encoder_ops import mlp
from protok.models.losses import bonded_next, dihedral_cos_sin, masked_mean

__all__ = [
    "TOKEN_LOCAL_ANGLES",
    "WINDOW_DISTANCE_SCALE",
    "TokenLocalHead",
    "token_local_loss",
    "BEND_THRESHOLD",
    "DSSP_TURNS",
    "HBOND_THRESHOLD",
    "dssp_local_targets",
    "dssp_target_count",
    "hbond_energy",
    "token_dssp_loss",
    "token_local_targets",
    "token_window_loss",
    "token_window_offsets",
    "token_window_targets",
]

#: The angles the head predicts, in output order (each as cos, sin).
TOKEN_LOCAL_ANGLES: tuple[str, ...] = ("phi", "psi", "omega", "ca_angle", "ca_dihedral")
#: Å per unit of the window distances the head predicts (CA-CA distances of 5-15 Å become 1-3).
WINDOW_DISTANCE_SCALE: float = 5.0
#: DSSP's turn lengths n: a turn is an H-bond from the C=O of residue s to the N-H of residue s + n.
DSSP_TURNS: tuple[int, ...] = (3, 4, 5)
#: DSSP's H-bond threshold, kcal/mol.
HBOND_THRESHOLD: float = -0.5
#: DSSP's bend threshold on the CA(i-2), CA(i), CA(i+2) angle kappa, degrees.
BEND_THRESHOLD: float = 70.0


class TokenLocalHead(nn.Module):
    """MLP from one residue's vector (N, D) to (cos, sin) of its :data:`TOKEN_LOCAL_ANGLES`, (N, 5, 2).

    Parameters
    ----------
    dim : int
        D, the decoder input (code) dimension.
    hidden : int
        Width of the two hidden layers.
    window : int
        W: also predict the CA distances to residues i±2 .. i±W (:meth:`distances`); < 2 = none.
    span : bool
        With a window, also predict the span distances CA(i-k)-CA(i+k), k = 2 .. W.
    dssp : bool
        Also predict DSSP's local criteria (:meth:`dssp_logits`, :func:`dssp_local_targets`).
    """

    def __init__(
        self, dim: int, hidden: int, window: int = 0, span: bool = False, dssp: bool = False
    ) -> None:
        super().__init__()
        self.net = mlp([dim, hidden, hidden, 2 * len(TOKEN_LOCAL_ANGLES)])
        n_dist = len(token_window_offsets(window)) + (max(window - 1, 0) if span else 0)
        #: Predicts the window distances (:meth:`distances`); None without a window.
        self.window_net = mlp([dim, hidden, hidden, n_dist]) if n_dist else None
        #: Predicts DSSP's local criteria as logits (:meth:`dssp_logits`); None without them.
        self.dssp_net = mlp([dim, hidden, hidden, dssp_target_count()]) if dssp else None

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).unflatten(-1, (len(TOKEN_LOCAL_ANGLES), 2))

    def distances(self, x: Tensor) -> Tensor:
        """Window distances (..., n) from residue vectors (..., D) (:func:`token_window_targets`' order)."""
        if self.window_net is None:
            raise ValueError("TokenLocalHead: built without a window (loss.token_local_window < 2)")
        return self.window_net(x)

    def dssp_logits(self, x: Tensor) -> Tensor:
        """Logits (..., :func:`dssp_target_count`) of :func:`dssp_local_targets` from residue vectors (..., D)."""
        if self.dssp_net is None:
            raise ValueError("TokenLocalHead: built without DSSP criteria (loss.token_local_dssp = false)")
        return self.dssp_net(x)


def _shifted(x: Tensor, offset: int) -> Tensor:
    """``x[:, i + offset]`` along dim 1, zero where that is outside the sequence."""
    out = torch.zeros_like(x)
    n = x.shape[1]
    if abs(offset) >= n:
        return out
    if offset > 0:
        out[:, : n - offset] = x[:, offset:]
    elif offset < 0:
        out[:, -offset:] = x[:, : n + offset]
    else:
        out = x.clone()
    return out


def _bonded_runs(nxt: Tensor, longest: int) -> list[Tensor]:
    """``runs[k - 1][:, i]``: residues i .. i+k bonded in a row, k = 1 .. ``longest`` (``nxt``: i to i+1)."""
    runs = [nxt]
    for k in range(2, longest + 1):
        runs.append(runs[-1] & _shifted(nxt, k - 1))
    return runs


@torch.no_grad()
def token_local_targets(
    coords: Tensor, atom_mask: Tensor, chain_idx: Tensor, chain_break: Tensor
) -> tuple[Tensor, Tensor]:
    """(cos, sin) of every residue's :data:`TOKEN_LOCAL_ANGLES` and which of them exist.

    Parameters
    ----------
    coords : Tensor, shape=(B, L, 4, 3)
        N, CA, C, O (any value where ``atom_mask`` is False).
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
        False for missing atoms and padding.
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool

    Returns
    -------
    targets : Tensor, shape=(B, L, 5, 2), float32
        (cos, sin) per angle; 0 where the angle does not exist.
    valid : Tensor, shape=(B, L, 5), dtype=bool
    """
    x = coords.float()
    n, ca, c = x[..., 0, :], x[..., 1, :], x[..., 2, :]
    nxt = bonded_next(atom_mask, chain_idx, chain_break)  # i bonded to i+1
    prv = _shifted(nxt, -1)  # i-1 bonded to i
    ca_prev, ca_next = _shifted(ca, -1), _shifted(ca, 1)
    to_prev, to_next = normalize(ca_prev - ca), normalize(ca_next - ca)
    bend = torch.stack(
        [
            (to_prev * to_next).sum(-1),
            torch.linalg.vector_norm(torch.cross(to_prev, to_next, dim=-1), dim=-1),
        ],
        dim=-1,
    )
    targets = torch.stack(
        [
            dihedral_cos_sin(_shifted(c, -1), n, ca, c),
            dihedral_cos_sin(n, ca, c, _shifted(n, 1)),
            dihedral_cos_sin(ca, c, _shifted(n, 1), ca_next),
            bend,
            dihedral_cos_sin(ca_prev, ca, ca_next, _shifted(ca, 2)),
        ],
        dim=-2,
    )
    valid = torch.stack([prv, nxt, nxt, prv & nxt, prv & nxt & _shifted(nxt, 1)], dim=-1)
    return torch.where(valid[..., None], targets, torch.zeros((), device=x.device)), valid


def token_local_loss(pred: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    """Squared error of predicted (cos, sin) pairs, summed per angle, mean over valid angles.

    Parameters
    ----------
    pred, targets : Tensor, shape=(B, L, 5, 2)
    valid : Tensor, shape=(B, L, 5), dtype=bool

    Returns
    -------
    Tensor, scalar, float32
    """
    return masked_mean((pred.float() - targets.float()).pow(2).sum(-1), valid)


def token_window_offsets(window: int) -> tuple[int, ...]:
    """Sequence offsets of the window distances: ``-W .. -2, 2 .. W`` (none for ``W < 2``).

    >>> token_window_offsets(4)
    (-4, -3, -2, 2, 3, 4)
    """
    if window < 2:
        return ()
    return (*range(-window, -1), *range(2, window + 1))


@torch.no_grad()
def token_window_targets(
    coords: Tensor,
    atom_mask: Tensor,
    chain_idx: Tensor,
    chain_break: Tensor,
    window: int,
    span: bool = False,
) -> tuple[Tensor, Tensor]:
    """CA(i)-CA(i+k) / :data:`WINDOW_DISTANCE_SCALE` for the :func:`token_window_offsets` k, and which exist.

    With ``span``, then CA(i-k)-CA(i+k) / :data:`WINDOW_DISTANCE_SCALE` for k = 2 .. W. A distance exists when
    every residue between its two ends is bonded to the next (:func:`bonded_next`: same segment, N, CA and C
    present), so no window reaches across a chain end or break.

    Parameters
    ----------
    coords : Tensor, shape=(B, L, 4, 3)
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool
    window : int
        W >= 2.
    span : bool
        Append the span distances.

    Returns
    -------
    targets : Tensor, shape=(B, L, n), float32
        n = 2 (W - 1), or 3 (W - 1) with ``span``; 0 where the distance does not exist.
    valid : Tensor, shape=(B, L, n), dtype=bool
    """
    offsets = token_window_offsets(window)
    if not offsets:
        raise ValueError(f"token_window_targets: window must be >= 2, got {window}")
    ca = coords.float()[..., 1, :]
    reach = _bonded_runs(bonded_next(atom_mask, chain_idx, chain_break), window)
    dists, valid = [], []
    for k in offsets:
        ok = reach[abs(k) - 1] if k > 0 else _shifted(reach[abs(k) - 1], k)
        dists.append(torch.linalg.vector_norm(_shifted(ca, k) - ca, dim=-1) / WINDOW_DISTANCE_SCALE)
        valid.append(ok)
    for k in range(2, window + 1) if span else ():
        dists.append(
            torch.linalg.vector_norm(_shifted(ca, k) - _shifted(ca, -k), dim=-1) / WINDOW_DISTANCE_SCALE
        )
        valid.append(reach[k - 1] & _shifted(reach[k - 1], -k))
    targets, ok = torch.stack(dists, -1), torch.stack(valid, -1)
    return torch.where(ok, targets, torch.zeros((), device=ca.device)), ok


def token_window_loss(pred: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    """Squared error of the predicted window distances, mean over valid ones (scalar, float32).

    Parameters
    ----------
    pred, targets : Tensor, shape=(B, L, n)
    valid : Tensor, shape=(B, L, n), dtype=bool
    """
    return masked_mean((pred.float() - targets.float()).pow(2), valid)


def dssp_target_count() -> int:
    """Number of :func:`dssp_local_targets` per residue: the turns over it, then the bend (16)."""
    return sum(n + 1 for n in DSSP_TURNS) + 1


def hbond_energy(c: Tensor, o: Tensor, n: Tensor, h: Tensor) -> Tensor:
    """DSSP's electrostatic H-bond energy (kcal/mol) from acceptor C, O to donor N, H (each (..., 3))."""

    def inv(a: Tensor, b: Tensor) -> Tensor:
        return 1.0 / torch.linalg.vector_norm(a - b, dim=-1).clamp_min(0.5)

    return 0.084 * 332.0 * (inv(o, n) + inv(c, h) - inv(o, h) - inv(c, n))


@torch.no_grad()
def dssp_local_targets(
    coords: Tensor, atom_mask: Tensor, chain_idx: Tensor, chain_break: Tensor
) -> tuple[Tensor, Tensor]:
    """DSSP's local criteria around every residue i, computed from the backbone, and which exist.

    For each n of :data:`DSSP_TURNS` and each start s = i - n .. i (in that order): whether the n-turn at s
    exists (:func:`hbond_energy` of C=O(s) to N-H(s + n) below :data:`HBOND_THRESHOLD`; the amide H placed as
    DSSP places it, 1 Å from N opposite the previous residue's C=O; proline is not singled out); then whether
    i is a bend (kappa above :data:`BEND_THRESHOLD`). A turn exists to be judged when residues s .. s + n
    are bonded in a row (:func:`bonded_next`) and the O of s and of s + n - 1 are present; a bend when
    i - 2 .. i + 2 are bonded in a row.

    Parameters
    ----------
    coords : Tensor, shape=(B, L, 4, 3)
        N, CA, C, O.
    atom_mask : Tensor, shape=(B, L, 4), dtype=bool
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool

    Returns
    -------
    targets : Tensor, shape=(B, L, 16), float32
        1.0 where the turn or bend is there, else 0.
    valid : Tensor, shape=(B, L, 16), dtype=bool
    """
    x = coords.float()
    n_at, ca, c, o = x[..., 0, :], x[..., 1, :], x[..., 2, :], x[..., 3, :]
    has_o = atom_mask[..., 3]
    reach = _bonded_runs(bonded_next(atom_mask, chain_idx, chain_break), max(DSSP_TURNS))
    # the amide H of residue j, from the C=O of j - 1
    h = n_at + normalize(_shifted(c, -1) - _shifted(o, -1))
    targets, valid = [], []
    for t in DSSP_TURNS:
        energy = hbond_energy(c, o, _shifted(n_at, t), _shifted(h, t))
        ok = reach[t - 1] & has_o & _shifted(has_o, t - 1)
        turn = (energy < HBOND_THRESHOLD) & ok
        for start in range(-t, 1):  # s = i - t .. i
            targets.append(_shifted(turn, start))
            valid.append(_shifted(ok, start))
    to_prev, to_next = ca - _shifted(ca, -2), _shifted(ca, 2) - ca
    cos_kappa = (normalize(to_prev) * normalize(to_next)).sum(-1)
    targets.append(cos_kappa < math.cos(math.radians(BEND_THRESHOLD)))
    valid.append(_shifted(reach[3], -2))
    out, ok = torch.stack(targets, -1), torch.stack(valid, -1)
    return (out & ok).float(), ok


def token_dssp_loss(logits: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    """Binary cross-entropy of the predicted DSSP criteria (scalar, float32): the mean over the valid turns
    and the mean over the valid bends, averaged, so the one bend criterion weighs as much as the 15 turns.

    Parameters
    ----------
    logits, targets : Tensor, shape=(B, L, 16)
    valid : Tensor, shape=(B, L, 16), dtype=bool
    """
    bce = nn.functional.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
    return 0.5 * (masked_mean(bce[..., :-1], valid[..., :-1]) + masked_mean(bce[..., -1], valid[..., -1]))
