"""Backbone idealization: the nearest chain of ideal trans peptides to a predicted backbone.

A decoder places every residue from its own predicted frame, so each residue is ideal on its own, but the
bonds *between* residues (the C-N peptide bond, CA-CA 3.8 Å) come out only as well as the frames agree.
:func:`idealize_backbone` rebuilds a chain that is exactly ideal between residues and stays close to the
prediction, in two steps:

1. **CA trace.** Starting from the predicted CA positions, alternating projections (position-based
   dynamics) bring every bonded CA-CA distance to the ideal trans-peptide value :data:`CA_CA` and push
   apart non-bonded CA pairs closer than :data:`CA_CLASH`, moving atoms as little as each constraint needs;
   a few bond-only sweeps end it. Clashes of a collapsed prediction are reduced, not removed.
2. **Peptide planes.** Between two bonded CAs the trans peptide C, O, N is rigid; only its rotation about
   the CA-CA axis is free. That rotation is the one that best fits the predicted C, O and N (closed form),
   and the plane's atoms are placed from ideal geometry. Segment ends keep their predicted N (first
   residue) or C and O (last residue), moved with their CA.

Bond lengths and angles of the peptide (Engh & Huber): N-CA 1.458, CA-C 1.525, C-N 1.329, C=O 1.231 Å;
CA-C-N 116.2°, C-N-CA 121.7°, CA-C-O 120.1°, trans (omega 180°). The N-CA-C angle of each residue follows
from its two neighbouring planes and is not constrained. Residues without coordinates (NaN) and chain
breaks end segments: nothing is bonded across them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from biotite.structure import CellList

__all__ = [
    "CA_CA",
    "CA_CLASH",
    "C_N",
    "IdealizeConfig",
    "bonded_ca_ok",
    "ca_clashes",
    "idealize_backbone",
    "peptide_bonds_ok",
    "peptide_plane",
]

#: Non-bonded CA-CA distance below which two residues clash (Å).
CA_CLASH: float = 3.6
#: Peptide bond length C(i)-N(i+1) of ideal geometry (Å).
C_N: float = 1.329


def _peptide_local() -> np.ndarray:
    """Ideal CA_i, C_i, O_i, N_i+1, CA_i+1 of a trans peptide in its plane (2-D, Å), CA_i at the origin."""
    c_bond, cn, n_ca, co = 1.525, C_N, 1.458, 1.231
    a_cacn, a_cnca, a_caco = map(math.radians, (116.2, 121.7, 120.1))
    c = np.array([c_bond, 0.0])
    # N at the angle CA-C-N from the C->CA direction (pointing back at CA = 180°), turning counter-clockwise
    d_n = np.array([math.cos(math.pi - a_cacn), math.sin(math.pi - a_cacn)])
    n = c + cn * d_n
    # CA_i+1 trans to CA_i across C-N (on the other side of the C-N line): turn N->C by the C-N-CA angle
    back = -d_n
    rot = np.array([[math.cos(a_cnca), -math.sin(a_cnca)], [math.sin(a_cnca), math.cos(a_cnca)]])
    ca2 = n + n_ca * (rot @ back)
    # O on the other side of the C->CA direction from N (cis to CA_i+1)
    d_o = np.array([math.cos(math.pi + a_caco), math.sin(math.pi + a_caco)])
    o = c + co * d_o
    return np.stack([np.zeros(2), c, o, n, ca2])


def peptide_plane() -> np.ndarray:
    """Ideal C_i, O_i, N_i+1 of a trans peptide in axis coordinates, shape=(3, 2): (along CA_i -> CA_i+1,
    perpendicular to it in the plane), CA_i at the origin and CA_i+1 at (:data:`CA_CA`, 0)."""
    pts = _peptide_local()
    axis = pts[4] / np.linalg.norm(pts[4])
    perp = np.array([-axis[1], axis[0]])
    return np.stack([pts[1:4] @ axis, pts[1:4] @ perp], axis=1)


#: CA-CA distance of an ideal trans peptide (Å).
CA_CA: float = float(np.linalg.norm(_peptide_local()[4]))
_PLANE = peptide_plane()


@dataclass(frozen=True)
class IdealizeConfig:
    """Effort of :func:`idealize_backbone`.

    Parameters
    ----------
    iterations : int
        Projection sweeps over the CA trace (bonds, then clashes).
    clash_every : int
        Sweeps between two clash searches (a cell list over the CA trace).
    final_sweeps : int
        Bond-only sweeps at the end.
    """

    iterations: int = 50
    clash_every: int = 5
    final_sweeps: int = 10


def idealize_backbone(
    coords: np.ndarray, breaks: np.ndarray | None = None, config: IdealizeConfig | None = None
) -> np.ndarray:
    """Ideal trans-peptide backbone nearest to predicted N, CA, C, O.

    Parameters
    ----------
    coords : ndarray, shape=(L, 4, 3)
        Predicted N, CA, C, O; a residue with any non-finite N, CA or C is missing.
    breaks : ndarray, shape=(L,), dtype=bool, optional
        True where a residue starts a new segment (a gap before it).
    config : IdealizeConfig, optional

    Returns
    -------
    ndarray, shape=(L, 4, 3), dtype=float32
        NaN where the input residue was missing.
    """
    cfg = config or IdealizeConfig()
    x = np.asarray(coords, dtype=np.float64)
    present = np.asarray(np.isfinite(x[:, :3]).all(axis=(1, 2)))
    linked = present[:-1] & present[1:]
    if breaks is not None:
        linked &= ~np.asarray(breaks, dtype=bool)[1:]
    ca = _fit_trace(np.where(present[:, None], x[:, 1], 0.0), present, linked, cfg)
    out = x.copy()
    out[:, :, :] += (ca - x[:, 1])[:, None, :]  # every residue moves with its CA first
    out[:, 1] = ca
    i = np.flatnonzero(linked)
    c, o, n = _place_planes(ca[i], ca[i + 1], x[i, 2], x[i, 3], x[i + 1, 0], x[i, 1], x[i + 1, 1])
    out[i, 2], out[i, 3], out[i + 1, 0] = c, o, n
    out[~present] = np.nan
    return out.astype(np.float32)


def _fit_trace(ca: np.ndarray, present: np.ndarray, linked: np.ndarray, cfg: IdealizeConfig) -> np.ndarray:
    """CA positions with bonded distances at :data:`CA_CA` and no non-bonded pair under :data:`CA_CLASH`."""
    ca = ca.copy()
    even = linked & (np.arange(len(linked)) % 2 == 0)
    odd = linked & ~even
    pairs = np.zeros((0, 2), dtype=np.int64)
    idx = np.flatnonzero(present)
    bonds = [np.flatnonzero(even), np.flatnonzero(odd)]
    for sweep in range(cfg.iterations):
        if sweep % cfg.clash_every == 0 and len(idx) > 2:
            pairs = _close_pairs(ca, idx, CA_CLASH + 0.5)
        if len(pairs):
            _push_apart(ca, pairs)
        for j in bonds:
            _restore_bonds(ca, j)
    for _ in range(cfg.final_sweeps):  # bonds last: a clash push may have stretched one
        for j in bonds:
            _restore_bonds(ca, j)
    return ca


def _restore_bonds(ca: np.ndarray, j: np.ndarray) -> None:
    """Set the distance of CA ``j`` to CA ``j + 1`` (bonds sharing no atom) to :data:`CA_CA`, moving both
    ends by half the error."""
    v = ca[j + 1] - ca[j]
    d = np.linalg.norm(v, axis=1, keepdims=True).clip(1e-6)
    shift = 0.5 * (d - CA_CA) / d * v
    ca[j] += shift
    ca[j + 1] -= shift


def _close_pairs(ca: np.ndarray, idx: np.ndarray, radius: float) -> np.ndarray:
    """Pairs (i, j), i < j - 1, of the residues ``idx`` whose CAs are within ``radius`` (biotite's cell
    list), shape=(n, 2)."""
    near = CellList(ca[idx], cell_size=radius).get_atoms(ca[idx], radius=radius)
    rows = np.repeat(np.arange(len(idx)), near.shape[1])
    cols = near.ravel()
    keep = cols >= 0
    pairs = idx[np.stack([rows[keep], cols[keep]], axis=1)]
    return pairs[pairs[:, 1] - pairs[:, 0] >= 2]


def _push_apart(ca: np.ndarray, pairs: np.ndarray) -> None:
    """Move both CAs of each clashing pair apart along their line, half the overlap each (averaged over an
    atom's pairs)."""
    v = ca[pairs[:, 1]] - ca[pairs[:, 0]]
    d = np.linalg.norm(v, axis=1, keepdims=True).clip(1e-6)
    overlap = np.clip(CA_CLASH - d, 0.0, None)
    if not overlap.any():
        return
    shift = 0.5 * overlap / d * v
    acc = np.zeros_like(ca)
    count = np.zeros(len(ca))
    np.add.at(acc, pairs[:, 0], -shift)
    np.add.at(acc, pairs[:, 1], shift)
    np.add.at(count, pairs.ravel(), (overlap[:, 0] > 0).repeat(2))
    ca += acc / count.clip(1)[:, None]


def _place_planes(
    ca0: np.ndarray,
    ca1: np.ndarray,
    c_pred: np.ndarray,
    o_pred: np.ndarray,
    n_pred: np.ndarray,
    ca0_pred: np.ndarray,
    ca1_pred: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """C, O, N of each peptide between ``ca0`` and ``ca1`` (n, 3): ideal in-plane coordinates, the plane
    turned about the CA-CA axis to fit the predicted C, O, N (taken relative to their own predicted CAs)."""
    axis = ca1 - ca0
    axis /= np.linalg.norm(axis, axis=1, keepdims=True).clip(1e-6)
    mid_pred = 0.5 * (ca0_pred + ca1_pred)
    mid = 0.5 * (ca0 + ca1)
    # predicted atoms relative to the predicted peptide's centre, in the frame of the fitted trace
    rel = np.stack([c_pred, o_pred, n_pred], axis=1) - mid_pred[:, None]
    w = np.einsum("k,nkd->nd", _PLANE[:, 1], rel)  # best perpendicular direction before projection
    perp = w - np.einsum("nd,nd->n", w, axis)[:, None] * axis
    norm = np.linalg.norm(perp, axis=1, keepdims=True)
    fallback = np.cross(axis, np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
    perp = np.where(norm > 1e-6, perp / norm.clip(1e-6), fallback / np.linalg.norm(fallback, axis=1)[:, None])
    start = mid - 0.5 * CA_CA * axis
    atoms = start[:, None] + _PLANE[None, :, :1] * axis[:, None] + _PLANE[None, :, 1:] * perp[:, None]
    return atoms[:, 0], atoms[:, 1], atoms[:, 2]


def _bond_lengths(coords: np.ndarray, breaks: np.ndarray | None, first: int, second: int) -> np.ndarray:
    """Distances from atom slot ``first`` of residue i to slot ``second`` of residue i + 1 over the pairs
    with both atoms present and no break between them, shape=(n,)."""
    x = np.asarray(coords, dtype=np.float64)
    a, b = x[:-1, first], x[1:, second]
    linked = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if breaks is not None:
        linked &= ~np.asarray(breaks, dtype=bool)[1:]
    return np.asarray(np.linalg.norm(b[linked] - a[linked], axis=1))


def bonded_ca_ok(coords: np.ndarray, breaks: np.ndarray | None = None, tol: float = 0.2) -> tuple[int, int]:
    """(bonded CA-CA distances within 3.8 ± ``tol`` Å, bonded pairs) of one chain: consecutive residues
    both present and not separated by a break."""
    d = _bond_lengths(coords, breaks, 1, 1)
    return int((np.abs(d - 3.8) <= tol).sum()), len(d)


def peptide_bonds_ok(
    coords: np.ndarray, breaks: np.ndarray | None = None, tol: float = 0.1
) -> tuple[int, int]:
    """(peptide bonds C(i)-N(i+1) within :data:`C_N` ± ``tol`` Å, bonds) of one chain: consecutive
    residues with C(i) and N(i+1) present and not separated by a break.

    Parameters
    ----------
    coords : ndarray, shape=(L, 4, 3)
        N, CA, C, O; NaN where an atom is missing.
    breaks : ndarray, shape=(L,), dtype=bool, optional
        True where a residue starts a new segment.
    tol : float
    """
    d = _bond_lengths(coords, breaks, 2, 0)
    return int((np.abs(d - C_N) <= tol).sum()), len(d)


def ca_clashes(coords: np.ndarray, cutoff: float = CA_CLASH) -> int:
    """Non-bonded CA-CA clashes of one chain: pairs of residues i, j with ``|i - j| >= 2`` whose CAs
    (both present) are closer than ``cutoff`` Å.

    Parameters
    ----------
    coords : ndarray, shape=(L, 4, 3)
        N, CA, C, O; a residue with a non-finite CA is missing.
    cutoff : float

    Returns
    -------
    int
        Each clashing pair counted once.
    """
    ca = np.asarray(coords, dtype=np.float64)[:, 1]
    idx = np.flatnonzero(np.isfinite(ca).all(axis=1))
    if len(idx) < 3:
        return 0
    pairs = _close_pairs(ca, idx, cutoff)
    d = np.linalg.norm(ca[pairs[:, 1]] - ca[pairs[:, 0]], axis=1)
    return int((d < cutoff).sum())
