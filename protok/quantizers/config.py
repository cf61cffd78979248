"""QuantizerConfig: the plain, JSON-serialisable description from which every quantizer is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protok.config import config_from_dict, config_to_dict
from protok.errors import ConfigError
from protok.quantizers.schedules import SCHEDULES

__all__ = ["QuantizerConfig"]

_MECHANISMS = ("interp", "stochastic")
_INITS = ("kmeans", "sample", "none")


@dataclass(frozen=True)
class QuantizerConfig:
    """Configuration of a quantizer (all fields plain JSON types; frozen: derive variants with
    ``dataclasses.replace``).

    Parameters
    ----------
    kind : str
        Registry key: ``"provq"``, ``"vq"``, ``"ema"``, ``"aminoaseed"``, ``"fsq"`` or a user-registered name.
    codebook_size : int
        K, number of codes (for ``fsq`` the product of ``fsq_levels`` must equal K).
    dim : int
        D, dimension of the encoder output and of the code vectors.
    commitment_weight, codebook_weight : float
        Weights of the commitment term ``|z - sg(q)|^2`` and codebook term ``|sg(z) - q|^2`` (means over
        valid rows and dimensions). EMA quantizers have no codebook term.
    init : str
        Data-dependent codebook initialisation on the first training batch: ``"kmeans"`` (k-means++ seeds
        then ``kmeans_iters`` Lloyd iterations), ``"sample"`` (random rows) or ``"none"`` (keep the random normal
        init). Computed on rank 0 and broadcast.
    kmeans_iters : int
        Lloyd iterations for ``init="kmeans"``.
    decay, eps : float
        EMA decay and Laplace-smoothing epsilon (``ema``).
    dead_code_steps : int
        A code not chosen in this many consecutive training steps (summed over ranks) is dead and is
        re-seeded from the current batch; 0 disables both the dead-code count and re-seeding.
    reseed_noise : float
        Re-seeded codes are random batch rows plus Gaussian noise of this many batch standard deviations.
    inner : str
        ProVQ only: kind of the inner quantizer (``"vq"``, ``"ema"``, ``"aminoaseed"``).
    mechanism : str
        ProVQ hardness mechanism: ``"interp"`` or ``"stochastic"``.
    schedule : str
        ProVQ hardness schedule: a key of :data:`protok.quantizers.schedules.SCHEDULES`.
    anneal_start, anneal_end : float
        Fractions of training over which hardness rises from 0 to 1.
    commitment_by_alpha : bool
        ProVQ: scale the commitment term by the current hardness (see :mod:`protok.quantizers.provq`).
    seed : int
        Seed of the quantizer's own random streams (init sampling, re-seeding, stochastic replacement).
    fsq_levels : list of int
        FSQ quantization levels per latent dimension.
    cosine : bool
        Codebook quantizers: cosine lookup (l2-normalised latents and code vectors), the low-dimensional
        normalised codes of FoldToken; ignored by ``fsq``.
    """

    kind: str = "provq"
    codebook_size: int = 512
    dim: int = 128
    commitment_weight: float = 0.25
    codebook_weight: float = 1.0
    init: str = "kmeans"
    kmeans_iters: int = 10
    decay: float = 0.99
    eps: float = 1e-5
    dead_code_steps: int = 200
    reseed_noise: float = 0.01
    inner: str = "vq"
    mechanism: str = "interp"
    schedule: str = "cosine"
    anneal_start: float = 0.0
    anneal_end: float = 0.5
    commitment_by_alpha: bool = True
    seed: int = 0
    fsq_levels: list[int] = field(default_factory=lambda: [8, 8, 8])
    cosine: bool = False

    def __post_init__(self) -> None:
        if self.codebook_size < 1:
            raise ConfigError(f"codebook_size must be >= 1, got {self.codebook_size}")
        if self.dim < 1:
            raise ConfigError(f"dim must be >= 1, got {self.dim}")
        if self.init not in _INITS:
            raise ConfigError(f"init must be one of {_INITS}, got {self.init!r}")
        if self.mechanism not in _MECHANISMS:
            raise ConfigError(f"mechanism must be one of {_MECHANISMS}, got {self.mechanism!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {sorted(SCHEDULES)}, got {self.schedule!r}")
        if not 0.0 <= self.anneal_start <= self.anneal_end <= 1.0:
            raise ConfigError(
                f"need 0 <= anneal_start <= anneal_end <= 1, got {self.anneal_start}, {self.anneal_end}"
            )
        if not 0.0 < self.decay < 1.0:
            raise ConfigError(f"decay must be in (0, 1), got {self.decay}")
        if self.dead_code_steps < 0:
            raise ConfigError(f"dead_code_steps must be >= 0, got {self.dead_code_steps}")
        if self.commitment_weight < 0 or self.codebook_weight < 0:
            raise ConfigError("loss weights must be non-negative")
        object.__setattr__(self, "fsq_levels", [int(v) for v in self.fsq_levels])

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>", key: str = "") -> QuantizerConfig:
        """Inverse of :meth:`to_dict` (:func:`protok.config.config_from_dict`): unknown keys, wrong types
        and bad values raise :class:`~protok.errors.ConfigError`."""
        return config_from_dict(cls, data, source=source, key=key)
