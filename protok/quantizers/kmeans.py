"""Data-dependent codebook initialisation: k-means++ seeding and a few Lloyd (k-means) iterations.

Pure functions on one process; callers broadcast the result from rank 0 (see ``VectorQuantizer``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from protok._precision import full_precision

__all__ = ["kmeans", "kmeans_plus_plus", "sample_rows"]


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
def kmeans_plus_plus(x: Tensor, n_centres: int, generator: torch.Generator) -> Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each new centre is a row drawn with probability
    proportional to its squared distance to the nearest centre chosen so far.

    Parameters
    ----------
    x : Tensor, shape=(M, D)
        Data rows, M >= 1.
    n_centres : int
        Number of centres (the codebook size, for codebook initialisation). With ``n_centres > M`` (or fewer
        than ``n_centres`` distinct rows) the extra centres are perturbed copies of random rows (see
        :func:`sample_rows`).
    generator : torch.Generator
        CPU generator.

    Returns
    -------
    Tensor, shape=(n_centres, D), float32
    """
    x = x.float()
    m = x.shape[0]
    first = int(torch.randint(m, (1,), generator=generator))
    chosen = [first]
    x2 = x.pow(2).sum(-1)
    d2 = (x2 - 2 * (x @ x[first]) + x2[first]).clamp(min=0)
    for _ in range(1, min(n_centres, m)):
        total = d2.sum()
        if not total > 0:  # all remaining rows coincide with centres
            break
        u = torch.rand(1, generator=generator, dtype=torch.float64) * float(total)
        nxt = min(int(torch.searchsorted(d2.double().cumsum(0).cpu(), u)), m - 1)
        chosen.append(nxt)
        d2 = torch.minimum(d2, (x2 - 2 * (x @ x[nxt]) + x2[nxt]).clamp(min=0))
    centres = x[torch.tensor(chosen, device=x.device)]
    if len(chosen) < n_centres:
        centres = torch.cat([centres, sample_rows(x, n_centres - len(chosen), generator, noise=1e-3)])
    return centres


@torch.no_grad()
def kmeans(x: Tensor, n_centres: int, iters: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """k-means (Lloyd) seeded by :func:`kmeans_plus_plus`.

    Parameters
    ----------
    x : Tensor, shape=(M, D)
        Data rows, M >= 1.
    n_centres : int
        Number of centres.
    iters : int
        Lloyd iterations (0 returns the k-means++ seeds).
    generator : torch.Generator
        CPU generator for the seeding.

    Returns
    -------
    centres : Tensor, shape=(n_centres, D), float32
    counts : Tensor, shape=(n_centres,), float32
        Rows assigned to each centre in the last assignment (ones when ``iters == 0``).
    """
    x = x.float()
    with full_precision(x.device):  # distances in float32 under bf16 autocast too
        centres = kmeans_plus_plus(x, n_centres, generator)
        counts = torch.ones(n_centres, device=x.device)
        x2 = x.pow(2).sum(-1, keepdim=True)
        for _ in range(iters):
            d = x2 - 2 * x @ centres.t() + centres.pow(2).sum(-1)[None]
            assign = d.argmin(-1)
            counts = torch.bincount(assign, minlength=n_centres).float()
            sums = torch.zeros_like(centres).index_add_(0, assign, x)
            nonempty = counts > 0
            centres = torch.where(nonempty[:, None], sums / counts.clamp(min=1)[:, None], centres)
    return centres, counts
