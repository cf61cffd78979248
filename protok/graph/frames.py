"""Per-residue rigid frames and the ideal virtual CB atom.

A residue frame is a rotation ``R`` (columns = the local x, y, z axes in global coordinates) and a
translation (the CA position), built by Gram-Schmidt from the backbone atoms N, CA and C:
``x = unit(C - CA)``, ``y = unit((N - CA) - ((N - CA) . x) x)``, ``z = x cross y``.
Under a mirror reflection ``z`` flips relative to the mirrored geometry, which is what makes
frame-derived features chiral.
"""

from __future__ import annotations

import torch

__all__ = ["CB_COEFFS", "backbone_frames", "virtual_cb", "normalize"]

#: Ideal virtual-CB coefficients ``(a, b, c)`` of ProteinMPNN / ESM:
#: ``CB = a * ((CA - N) x (C - CA)) + b * (CA - N) + c * (C - CA) + CA``.
CB_COEFFS: tuple[float, float, float] = (-0.58273431, 0.56802827, -0.54067466)

_EPS = 1e-8


def normalize(v: torch.Tensor, eps: float = _EPS) -> torch.Tensor:
    """Unit vectors along the last axis; zero vectors stay zero.

    Parameters
    ----------
    v : Tensor, shape=(..., 3)
    eps : float
        Lower bound on the norm used as divisor.

    Returns
    -------
    Tensor, shape=(..., 3)
    """
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True).clamp_min(eps)


def backbone_frames(coords: torch.Tensor) -> torch.Tensor:
    """Rotations of the residue frames from N, CA, C (Gram-Schmidt on CA->C and CA->N).

    Parameters
    ----------
    coords : Tensor, shape=(L, >=3, 3)
        Backbone coordinates, atoms in order N, CA, C (O and more are ignored). Rows with missing atoms
        give meaningless (but finite, if the input is finite) rotations; mask them downstream.

    Returns
    -------
    Tensor, shape=(L, 3, 3)
        ``R[l]`` has the local x, y, z axes as columns, so ``R[l] @ local + CA[l]`` maps local to global
        coordinates and ``R[l].T @ (p - CA[l])`` maps global to local.

    Examples
    --------
    >>> import torch
    >>> bb = torch.tensor([[[1.458, 0.0, 0.0], [0.0, 0.0, 0.0], [-0.55, 1.42, 0.0]]])
    >>> R = backbone_frames(bb)
    >>> torch.allclose(R[0] @ R[0].T, torch.eye(3), atol=1e-6)
    True
    """
    n, ca, c = coords[:, 0], coords[:, 1], coords[:, 2]
    e1 = normalize(c - ca)
    u = n - ca
    e2 = normalize(u - (u * e1).sum(-1, keepdim=True) * e1)
    e3 = torch.linalg.cross(e1, e2, dim=-1)
    return torch.stack([e1, e2, e3], dim=-1)


def virtual_cb(coords: torch.Tensor) -> torch.Tensor:
    """Ideal virtual CB position from N, CA, C (ProteinMPNN / ESM constants, :data:`CB_COEFFS`).

    Parameters
    ----------
    coords : Tensor, shape=(L, >=3, 3)
        Backbone coordinates, atoms in order N, CA, C.

    Returns
    -------
    Tensor, shape=(L, 3)
        Virtual CB; an L-amino-acid CB, so it is *not* mirror-equivariant (chiral by construction).
    """
    n, ca, c = coords[:, 0], coords[:, 1], coords[:, 2]
    b = ca - n
    cc = c - ca
    a = torch.linalg.cross(b, cc, dim=-1)
    ka, kb, kc = CB_COEFFS
    return ka * a + kb * b + kc * cc + ca
