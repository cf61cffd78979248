"""Token consistency under coordinate noise: how far a noisy copy's vectors move, in code-cell units.

Training-time coordinate noise alone (``data.coord_noise``) does not make tokens steadier: nothing in the
reconstruction loss penalises the encoder's jitter relative to the code cells. With
``loss.consistency_weight > 0`` the model also encodes, in each training step, a copy of the batch whose
backbone atoms carry Gaussian noise of ``loss.consistency_noise`` Å, its kNN graph and features rebuilt from
the noisy coordinates as for real noisy input (:func:`protok.graph.regraph`), and adds

    loss = mean_i |u'_i - sg(u_i)|^2 / sg(cell_i),    cell_i = |c1_i - c2_i|^2

where ``u_i`` and ``u'_i`` are residue i's clean and noisy vectors in the space where the quantizer picks
codes (:meth:`~protok.quantizers.base.Quantizer.lookup_space`: the latent for VQ, EMA, AminoAseed and
ProVQ, unit vectors for a cosine lookup, the bounded projection for FSQ), and ``c1_i``, ``c2_i`` the clean
vector's nearest and second-nearest codes. The token flips when the noisy vector crosses the boundary
between the two cells, half-way between them, so the term is the noise jitter in units of the local code
spacing: independent of the scale of the latent space and of the codebook, and larger where codes are
dense (where tokens flip most easily). For FSQ the nearest and second-nearest grid points are one unit
apart: the cell is 1. A cell smaller than a tenth of the batch's mean (two nearly equal codes) counts as
that tenth, so one pair of near-duplicate codes cannot dominate the batch.

The clean vector is the main pass's own output under stop-gradient: gradients reach the encoder only
through the noisy copy, pulling it towards where the clean copy landed. With ``data.coord_noise > 0`` the
main pass saw noisy coordinates already and the copy is built from the clean targets plus fresh noise.

:func:`consistency_loss` also returns the share of residues whose nearest code differs between the two
copies: the training-time flip rate under that noise, logged as ``stats/consistency_flips``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from protok._precision import full_precision

__all__ = ["MIN_CELL_SHARE", "consistency_loss", "noisy_coordinates", "squared_distances"]

#: Cells smaller than this share of the batch's mean cell count as that share (near-duplicate codes).
MIN_CELL_SHARE = 0.1


def noisy_coordinates(coords: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """``coords`` plus independent Gaussian noise of standard deviation ``sigma`` (Å) on every coordinate.

    Parameters
    ----------
    coords : Tensor, shape=(N, 4, 3)
    sigma : float
    generator : torch.Generator, optional
        Default: the global generator of ``coords``' device (saved in training checkpoints).

    Returns
    -------
    Tensor, shape=(N, 4, 3), float32
    """
    x = coords.float()
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + sigma * noise


def squared_distances(vectors: Tensor, codes: Tensor) -> Tensor:
    """Squared L2 distances of every row of ``vectors`` (M, d) to every code (K, d), float32, (M, K).

    The row constant ``|v|^2`` is kept (the values are distances, not only their order).
    """
    v, c = vectors.float(), codes.float()
    with full_precision(v.device):
        d = torch.addmm(c.pow(2).sum(-1)[None], v, c.t(), alpha=-2.0)
        return (d + v.pow(2).sum(-1, keepdim=True)).clamp_min(0.0)


def consistency_loss(noisy: Tensor, clean: Tensor, codes: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Noisy-copy jitter in code-cell units and the share of residues whose nearest code flips.

    Parameters
    ----------
    noisy : Tensor, shape=(N, d)
        The noisy copy's vectors in the lookup space (gradients flow through them).
    clean : Tensor, shape=(N, d)
        The clean vectors in the same space (taken under stop-gradient).
    codes : Tensor, shape=(K, d)
        The codes in that space (taken under stop-gradient).
    mask : Tensor, shape=(N,), dtype=bool
        Residues to score (those with a code).

    Returns
    -------
    loss : Tensor, scalar, float32
        ``mean_i |noisy_i - clean_i|^2 / cell_i`` over masked-in residues (0 when there are none).
    flip_rate : Tensor, scalar, float32
        Share of those residues whose nearest code differs between ``noisy`` and ``clean`` (no gradient).
    """
    with full_precision(noisy.device):
        u = noisy.float()[mask]
        ref = clean.detach().float()[mask]
        if u.shape[0] == 0:
            zero = noisy.float().sum() * 0.0
            return zero, zero.detach()
        with torch.no_grad():
            cb = codes.detach().float()
            d_clean = squared_distances(ref, cb)
            nearest = d_clean.argmin(-1)
            if cb.shape[0] >= 2:
                second = d_clean.scatter(1, nearest[:, None], float("inf")).argmin(-1)
                cell = (cb[nearest] - cb[second]).pow(2).sum(-1)
                cell = torch.maximum(cell, MIN_CELL_SHARE * cell.mean() + 1e-12)
            else:
                cell = torch.ones(u.shape[0], device=u.device)
            flips = (squared_distances(u, cb).argmin(-1) != nearest).float().mean()
        jitter = (u - ref).pow(2).sum(-1) / cell
        return jitter.mean(), flips
