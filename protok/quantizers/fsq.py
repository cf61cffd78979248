"""Finite scalar quantization (FSQ, Mentzer et al. 2023) with input/output projections.

``z`` (N, D) is projected to ``d = len(levels)`` dimensions, each bounded by ``tanh`` to ``levels[i]``
values and rounded with a straight-through estimator; the implicit codebook is the grid of
``prod(levels)`` points, projected back to D by a learned ``Linear(d, D)``. No codebook or commitment
loss (both reported as 0); there are no dead codes to re-seed (the grid is fixed), but codes unused for
``dead_code_steps`` steps are still counted in ``stats["dead_codes"]``. Same bounding/rounding as
``vector_quantize_pytorch.FSQ`` (not imported: it is a test-only dependency).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from protok.errors import ConfigError
from protok.quantizers.base import Quantizer, QuantizerOutput, batch_stats, check_input

__all__ = ["FSQuantizer"]


class FSQuantizer(Quantizer):
    """FSQ with learned projections; codebook = ``project_out(grid)``.

    Parameters
    ----------
    levels : sequence of int
        Number of values per latent dimension (each >= 2); ``prod(levels)`` codes.
    dim : int
        D.
    codebook_size : int, optional
        If given, must equal ``prod(levels)``.
    dead_code_steps : int
        Steps without use after which a code counts as dead (0 = not counted).
    """

    levels: Tensor
    basis: Tensor
    unused_steps: Tensor

    def __init__(
        self,
        *,
        levels: Sequence[int] = (8, 8, 8),
        dim: int = 128,
        codebook_size: int | None = None,
        dead_code_steps: int = 200,
    ) -> None:
        super().__init__()
        levels = [int(v) for v in levels]
        if not levels or min(levels) < 2:
            raise ConfigError(f"FSQ levels must be a non-empty list of ints >= 2, got {levels}")
        n_codes = math.prod(levels)
        if codebook_size is not None and codebook_size != n_codes:
            raise ConfigError(
                f"FSQ levels {levels} give {n_codes} codes but codebook_size is {codebook_size}"
            )
        self.codebook_size = n_codes
        self.dim = dim
        self.dead_code_steps = dead_code_steps
        self.commitment_weight = 0.0
        self.codebook_weight = 0.0
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.long), persistent=False)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]], dtype=torch.long), 0)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("unused_steps", torch.zeros(n_codes, dtype=torch.long))
        self.project_in = nn.Linear(dim, len(levels))
        self.project_out = nn.Linear(len(levels), dim)

    def _bound(self, h: Tensor) -> Tensor:
        eps = 1e-3
        lv = self.levels.to(h.dtype)
        half_l = (lv - 1) * (1 + eps) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0).to(h.dtype)
        shift = (offset / half_l).atanh()
        return (h + shift).tanh() * half_l - offset

    def _grid_values(self, h: Tensor) -> Tensor:
        """Rounded, normalised latent in [-1, 1] (straight-through), shape=(M, d)."""
        b = self._bound(h)
        rounded = b + (b.round() - b).detach()
        return rounded / (self.levels // 2).to(h.dtype)

    def _codes_to_indices(self, zhat: Tensor) -> Tensor:
        half = (self.levels // 2).to(zhat.dtype)
        digits = (zhat.detach() * half + half).round().long()
        return (digits * self.basis).sum(-1)

    def _indices_to_grid(self, indices: Tensor) -> Tensor:
        digits = (indices[..., None] // self.basis) % self.levels
        half = self.levels // 2
        return (digits - half).float() / half.float()

    def codebook(self) -> Tensor:
        """``project_out`` of all grid points, shape=(K, D)."""
        grid = self._indices_to_grid(torch.arange(self.codebook_size, device=self.levels.device))
        return self.project_out(grid.to(self.project_out.weight.dtype))

    def lookup_space(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The bounded projection of ``z`` (float32; rounding it picks the code) and the integer grid points
        (the nearest grid point to a bounded vector is its rounding): shapes (N, d) and (K, d)."""
        bounded = self._bound(self.project_in(z.to(self.project_in.weight.dtype)).float())
        grid = self._indices_to_grid(torch.arange(self.codebook_size, device=self.levels.device))
        return bounded, grid * (self.levels // 2).float()

    def forward(self, z: Tensor, *, mask: Tensor | None = None, progress: float = 1.0) -> QuantizerOutput:
        """Quantize ``z`` (N, D); masked rows get index -1 and zero output."""
        mask = check_input(z, mask, self.dim)
        all_valid = bool(mask.all())
        zv = z if all_valid else z[mask]
        # bounding and rounding in float32 (as vector_quantize_pytorch does), whatever the input dtype
        zhat = self._grid_values(self.project_in(zv.to(self.project_in.weight.dtype)).float())
        idx_v = self._codes_to_indices(zhat)
        if all_valid:
            indices = idx_v
        else:
            indices = torch.full((z.shape[0],), -1, dtype=torch.long, device=z.device)
            indices[mask] = idx_v
        if self.training:
            out_v = self.project_out(zhat.to(self.project_out.weight.dtype))
            quantized = out_v if all_valid else out_v.new_zeros(z.shape).index_put((mask,), out_v)
            if self.dead_code_steps:
                with torch.no_grad():
                    used = torch.bincount(idx_v, minlength=self.codebook_size) > 0
                    self.unused_steps.add_(1).masked_fill_(used, 0)
        else:
            quantized = self.indices_to_codes(indices)
        zero = zv.sum() * 0.0
        stats = batch_stats(idx_v, self.codebook_size)
        dead = int((self.unused_steps >= self.dead_code_steps).sum()) if self.dead_code_steps else 0
        stats["dead_codes"] = float(dead)
        stats["reseeded"] = 0.0
        return QuantizerOutput(
            quantized=quantized,
            indices=indices,
            loss=zero,
            losses={"codebook": zero, "commitment": zero},
            stats=stats,
        )
