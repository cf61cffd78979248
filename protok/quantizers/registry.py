"""Registry of quantizer builders: ``build_quantizer(config)`` looks ``config.kind`` up in a dict.

Users add their own with :func:`register_quantizer`::

    @register_quantizer("myvq")
    def _build(config: QuantizerConfig) -> Quantizer: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from protok.errors import ConfigError
from protok.quantizers.aminoaseed import AminoAseedQuantizer
from protok.quantizers.base import Quantizer
from protok.quantizers.config import QuantizerConfig
from protok.quantizers.ema import EMAVectorQuantizer
from protok.quantizers.fsq import FSQuantizer
from protok.quantizers.provq import ProgressiveQuantizer
from protok.quantizers.vq import VectorQuantizer

__all__ = ["QUANTIZERS", "build_quantizer", "register_quantizer"]

Builder = Callable[[QuantizerConfig], Quantizer]

#: kind -> builder. Mutable on purpose: see :func:`register_quantizer`.
QUANTIZERS: dict[str, Builder] = {}


def register_quantizer(kind: str, *, overwrite: bool = False) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder(config) -> Quantizer`` under ``kind``.

    Raises
    ------
    ConfigError
        ``kind`` already registered and ``overwrite`` is False.
    """

    def deco(builder: Builder) -> Builder:
        if kind in QUANTIZERS and not overwrite:
            raise ConfigError(f"quantizer kind {kind!r} is already registered")
        QUANTIZERS[kind] = builder
        return builder

    return deco


def build_quantizer(config: QuantizerConfig) -> Quantizer:
    """Build the quantizer ``config.kind`` describes.

    Raises
    ------
    ConfigError
        Unknown kind (the message lists the registered ones) or an invalid combination.
    """
    try:
        builder = QUANTIZERS[config.kind]
    except KeyError:
        raise ConfigError(
            f"unknown quantizer kind {config.kind!r}; registered: {sorted(QUANTIZERS)}"
        ) from None
    return builder(config)


def _vq_kwargs(c: QuantizerConfig) -> dict:
    return dict(
        codebook_size=c.codebook_size,
        dim=c.dim,
        commitment_weight=c.commitment_weight,
        codebook_weight=c.codebook_weight,
        init=c.init,
        kmeans_iters=c.kmeans_iters,
        dead_code_steps=c.dead_code_steps,
        reseed_noise=c.reseed_noise,
        seed=c.seed,
        cosine=c.cosine,
    )


@register_quantizer("vq")
def _build_vq(c: QuantizerConfig) -> Quantizer:
    return VectorQuantizer(**_vq_kwargs(c))


@register_quantizer("ema")
def _build_ema(c: QuantizerConfig) -> Quantizer:
    return EMAVectorQuantizer(decay=c.decay, eps=c.eps, **_vq_kwargs(c))


@register_quantizer("aminoaseed")
def _build_aminoaseed(c: QuantizerConfig) -> Quantizer:
    return AminoAseedQuantizer(**_vq_kwargs(c))


@register_quantizer("fsq")
def _build_fsq(c: QuantizerConfig) -> Quantizer:
    return FSQuantizer(levels=c.fsq_levels, dim=c.dim, codebook_size=c.codebook_size)


@register_quantizer("provq")
def _build_provq(c: QuantizerConfig) -> Quantizer:
    if c.inner in ("provq", "fsq") or c.inner not in QUANTIZERS:
        raise ConfigError(
            f"ProVQ inner quantizer must be a codebook quantizer (vq, ema, aminoaseed), got {c.inner!r}"
        )
    inner = build_quantizer(replace(c, kind=c.inner))
    if not isinstance(inner, VectorQuantizer):
        raise ConfigError(f"ProVQ inner kind {c.inner!r} did not build a VectorQuantizer")
    return ProgressiveQuantizer(
        inner,
        mechanism=c.mechanism,
        schedule=c.schedule,
        anneal_start=c.anneal_start,
        anneal_end=c.anneal_end,
        commitment_by_alpha=c.commitment_by_alpha,
        seed=c.seed,
    )
