"""Named exceptions of protok.quantizers."""

from __future__ import annotations

from protok.errors import ProtokError

__all__ = ["QuantizerInputError"]


class QuantizerInputError(ProtokError, ValueError):
    """A quantizer got input of the wrong shape, dtype or dimension (message says which and why)."""
