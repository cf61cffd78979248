"""ProVQ: progressive quantization (quantization hardness as a training axis).

Source: "Mitigating Premature Discretization with Progressive Quantization for Robust Vector
Tokenization" (arXiv 2603.22304). The paper's exact formula, schedule shape/length, losses and codebook
initialisation are NOT public (as far as could be found); what follows is protok's implementation
of the published idea, with the unknowns exposed as options so the benchmark can compare them.

Implemented
-----------
A hardness ``alpha = hardness(progress)`` rises from 0 to 1 between ``anneal_start`` and ``anneal_end``
(fractions of training) by a schedule from :mod:`protok.quantizers.schedules` (linear, cosine, sigmoid)
and then stays exactly 1. Let ``z`` be the encoder output and ``q_st = sg(q) + (z - sg(z))`` the
straight-through quantized vector from the inner quantizer (value exactly the code ``q``). The decoder sees

- ``mechanism="interp"``: ``(1 - alpha) z + alpha q_st`` (deterministic interpolation);
- ``mechanism="stochastic"``: per residue, ``q_st`` with probability ``alpha``, else ``z`` (drawn from
  this module's own ``torch.Generator``, seeded with ``seed + rank``: reproducible, independent per rank;
  codebook init and re-seeding are still broadcast from rank 0 by the inner quantizer).

``alpha == 0`` returns ``z`` unchanged (bit-exact) and ``alpha == 1`` returns exactly the code vectors.
Eval mode is always fully discrete (``alpha = 1``) whatever ``progress`` says.

Losses. The inner quantizer (vq, ema or aminoaseed) runs from the first step, so the codebook is
initialised from and keeps tracking the encoder's outputs: the codebook term (or the EMA update) is at
full weight throughout. With ``commitment_by_alpha=True`` (default) the commitment term is scaled by
``alpha``: commitment pulls the encoder towards the current codes, which is exactly the premature
collapse ProVQ wants to avoid while the decoder still sees continuous latents; it reaches full weight
(0.25) when the latents become discrete. Set it False to keep commitment constant.
"""

from __future__ import annotations

import torch
from torch import Tensor

from protok.quantizers.base import Quantizer, QuantizerOutput, check_input
from protok.quantizers.distributed import get_rank
from protok.quantizers.schedules import hardness
from protok.quantizers.vq import VectorQuantizer

__all__ = ["ProgressiveQuantizer"]


class ProgressiveQuantizer(Quantizer):
    """Progressive quantization around an inner codebook quantizer.

    Parameters
    ----------
    inner : VectorQuantizer
        The codebook quantizer (vq, ema or aminoaseed); its loss weights are used.
    mechanism : str
        ``"interp"`` or ``"stochastic"``.
    schedule : str
        ``"linear"``, ``"cosine"`` or ``"sigmoid"``.
    anneal_start, anneal_end : float
        Fractions of training where hardness starts rising and reaches 1.
    commitment_by_alpha : bool
        Scale the commitment term by ``alpha`` (default True, see module docstring).
    seed : int
        Seed of the stochastic replacement stream (offset by the DDP rank).

    Examples
    --------
    >>> from protok.quantizers.vq import VectorQuantizer
    >>> q = ProgressiveQuantizer(VectorQuantizer(codebook_size=16, dim=4), anneal_end=0.5)
    >>> z = torch.randn(8, 4)
    >>> bool((q(z, progress=0.0).quantized == z).all())
    True
    """

    def __init__(
        self,
        inner: VectorQuantizer,
        *,
        mechanism: str = "interp",
        schedule: str = "cosine",
        anneal_start: float = 0.0,
        anneal_end: float = 0.5,
        commitment_by_alpha: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if mechanism not in ("interp", "stochastic"):
            from protok.errors import ConfigError

            raise ConfigError(f"mechanism must be 'interp' or 'stochastic', got {mechanism!r}")
        hardness(0.0, schedule=schedule, start=anneal_start, end=anneal_end)  # validates
        self.inner = inner
        self.codebook_size = inner.codebook_size
        self.dim = inner.dim
        self.mechanism = mechanism
        self.schedule = schedule
        self.anneal_start = anneal_start
        self.anneal_end = anneal_end
        self.commitment_by_alpha = commitment_by_alpha
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}

    def codebook(self) -> Tensor:
        """The inner quantizer's effective codebook, shape=(K, D)."""
        return self.inner.codebook()

    def manual_seed(self, seed: int) -> None:
        """Restart the stochastic replacement stream from ``seed`` (+ rank)."""
        self.seed = seed
        self._generators.clear()

    def _generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(self.seed + get_rank())
        return self._generators[key]

    def alpha(self, progress: float) -> float:
        """Hardness at ``progress`` in training mode (eval mode always uses 1)."""
        return hardness(progress, schedule=self.schedule, start=self.anneal_start, end=self.anneal_end)

    @torch.no_grad()
    def indices(self, z: Tensor, mask: Tensor | None = None) -> Tensor:
        """The inner quantizer's indices (fully discrete: the indices never depend on ``alpha``)."""
        return self.inner.indices(z, mask)

    def forward(self, z: Tensor, *, mask: Tensor | None = None, progress: float = 1.0) -> QuantizerOutput:
        """Quantize ``z`` (N, D) with hardness ``alpha(progress)``; see the module docstring.

        Returns
        -------
        QuantizerOutput
            ``stats`` adds ``alpha`` and ``replaced`` (fraction of valid rows that see the code vector:
            ``alpha`` for interp as a weight, the realised fraction for stochastic).
        """
        checked = check_input(z, mask, self.dim)
        out = self.inner(z, mask=mask, progress=progress)
        alpha = self.alpha(progress) if self.training else 1.0
        zin = (
            z
            if mask is None
            else torch.where(checked[:, None], z, torch.zeros((), dtype=z.dtype, device=z.device))
        )
        replaced = alpha
        if alpha >= 1.0:
            quantized = out.quantized
        elif alpha <= 0.0:
            quantized = zin
        elif self.mechanism == "interp":
            quantized = (1.0 - alpha) * zin + alpha * out.quantized
        else:
            pick = torch.rand(z.shape[0], generator=self._generator(z.device), device=z.device) < alpha
            quantized = torch.where(pick[:, None], out.quantized, zin)
            n_valid = int(checked.sum())
            replaced = float((pick & checked).sum()) / n_valid if n_valid else 0.0
        commit_w = self.inner.commitment_weight * (alpha if self.commitment_by_alpha else 1.0)
        loss = self.inner.codebook_weight * out.losses["codebook"] + commit_w * out.losses["commitment"]
        stats = dict(out.stats)
        stats["alpha"] = float(alpha)
        stats["replaced"] = float(replaced)
        return QuantizerOutput(
            quantized=quantized, indices=out.indices, loss=loss, losses=out.losses, stats=stats
        )

    def extra_repr(self) -> str:
        return (
            f"mechanism={self.mechanism!r}, schedule={self.schedule!r}, anneal=({self.anneal_start}, "
            f"{self.anneal_end}), commitment_by_alpha={self.commitment_by_alpha}"
        )
