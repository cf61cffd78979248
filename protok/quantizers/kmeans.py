"""Data-dependent codebook initialisation: random rows and a few Lloyd (k-means) iterations.

Pure functions on one process; callers broadcast the result from rank 0 (see ``VectorQuantizer``).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["kmeans", "sample_rows"]


@torch.no_grad()
def sample_rows(x: Tensor, n: int, generator: torch.Generator, noise: float = 0.0) -> Tensor:
    """Pick ``n`` rows of ``x`` at random (without replacement when possible), optionally perturbed.

    Parameters
    ----------
    x : Tensor, shape=(M, D)
        Candidate rows, M >= 1.
    n : int
        Number of rows wanted.
    generator : torch.Generator
        CPU generator (the choice is reproducible from its seed).
    noise : float
        Standard deviation of added Gaussian noise, in units of the per-dimension std of ``x``. Rows drawn
        more than once always get at least ``1e-3`` std of noise so that duplicate codes can separate.

    Returns
    -------
    Tensor, shape=(n, D), dtype float32
    """
    m = x.shape[0]
    with_replacement = n > m
    if with_replacement:
        pick = torch.randint(m, (n,), generator=generator)
    else:
        pick = torch.randperm(m, generator=generator)[:n]
    rows = x[pick.to(x.device)].float()
    scale = max(noise, 1e-3 if with_replacement else 0.0)
    if scale > 0:
        std = x.float().std(0, unbiased=False) if m > 1 else torch.ones_like(rows[0])
        std = torch.where(std > 0, std, torch.ones_like(std))
        eps = torch.randn(rows.shape, generator=generator).to(rows.device)
        rows = rows + scale * std * eps
    return rows


@torch.no_grad()
def kmeans(x: Tensor, k: int, iters: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """k-means (Lloyd) seeded with random rows of ``x``.

    Parameters
    ----------
    x : Tensor, shape=(M, D)
        Data rows, M >= 1.
    k : int
        Number of centres.
    iters : int
        Lloyd iterations (0 returns the random rows).
    generator : torch.Generator
        CPU generator for the seeding rows.

    Returns
    -------
    centres : Tensor, shape=(k, D), float32
    counts : Tensor, shape=(k,), float32
        Rows assigned to each centre in the last assignment (ones when ``iters == 0``).
    """
    x = x.float()
    centres = sample_rows(x, k, generator)
    counts = torch.ones(k, device=x.device)
    x2 = x.pow(2).sum(-1, keepdim=True)
    for _ in range(iters):
        d = x2 - 2 * x @ centres.t() + centres.pow(2).sum(-1)[None]
        assign = d.argmin(-1)
        counts = torch.bincount(assign, minlength=k).float()
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        nonempty = counts > 0
        centres = torch.where(nonempty[:, None], sums / counts.clamp(min=1)[:, None], centres)
    return centres, counts
