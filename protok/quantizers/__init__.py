"""protok.quantizers: per-residue vectors -> discrete codes.

One contract (:class:`Quantizer`, :class:`QuantizerOutput`), one family per module, built from a
:class:`QuantizerConfig` through a registry (:func:`build_quantizer`, :func:`register_quantizer`).

>>> from protok.quantizers import QuantizerConfig, build_quantizer
>>> q = build_quantizer(QuantizerConfig(kind="provq", codebook_size=64, dim=16))
"""

from protok.quantizers.aminoaseed import AminoAseedQuantizer
from protok.quantizers.base import Quantizer, QuantizerOutput
from protok.quantizers.config import QuantizerConfig
from protok.quantizers.ema import EMAVectorQuantizer
from protok.quantizers.errors import QuantizerInputError
from protok.quantizers.fsq import FSQuantizer
from protok.quantizers.provq import ProgressiveQuantizer
from protok.quantizers.registry import QUANTIZERS, build_quantizer, register_quantizer
from protok.quantizers.schedules import SCHEDULES, hardness
from protok.quantizers.vq import VectorQuantizer

__all__ = [
    "QUANTIZERS",
    "SCHEDULES",
    "AminoAseedQuantizer",
    "EMAVectorQuantizer",
    "FSQuantizer",
    "ProgressiveQuantizer",
    "Quantizer",
    "QuantizerConfig",
    "QuantizerInputError",
    "QuantizerOutput",
    "VectorQuantizer",
    "build_quantizer",
    "hardness",
    "register_quantizer",
]
