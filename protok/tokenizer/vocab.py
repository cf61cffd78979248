"""The structure-token vocabulary: codebook ids ``0..K-1``, then named special tokens with fixed ids.

Layout (frozen; a change is a new model version)::

    0 .. K-1    codebook entries (structure tokens)
    K + 0       MASK         masked position (for masked LMs)
    K + 1       EOS          end of sequence
    K + 2       BOS          beginning of sequence
    K + 3       PAD          padding
    K + 4       CHAINBREAK   boundary between two chains of a complex (or a break inside a chain)
    K + 5       MISSING      a residue whose backbone (N, CA or C) is missing, so it has no token

The first five follow ESM3's order (MASK, EOS, BOS, PAD, CHAINBREAK right after the codebook), so an
ESM3-style language model can reuse its special-token handling; MISSING is protok's addition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SPECIAL_TOKENS", "SPECIAL_TEXT", "Vocabulary"]

#: Special token names in id order, starting at id ``K``.
SPECIAL_TOKENS: tuple[str, ...] = ("MASK", "EOS", "BOS", "PAD", "CHAINBREAK", "MISSING")

#: Text form of each special token (see :mod:`protok.tokenizer.text`). ``#`` for a residue without
#: a structure token follows SaProt, which writes ``#`` for a masked structure letter.
SPECIAL_TEXT: dict[str, str] = {
    "MASK": "<mask>",
    "EOS": "<eos>",
    "BOS": "<bos>",
    "PAD": "<pad>",
    "CHAINBREAK": "|",
    "MISSING": "#",
}


@dataclass(frozen=True)
class Vocabulary:
    """Token ids of one tokenizer.

    Parameters
    ----------
    codebook_size : int
        K, the number of structure codes (ids ``0..K-1``).

    Examples
    --------
    >>> v = Vocabulary(512)
    >>> v.mask, v.eos, v.bos, v.pad, v.chainbreak, v.missing, v.size
    (512, 513, 514, 515, 516, 517, 518)
    """

    codebook_size: int

    def __post_init__(self) -> None:
        if int(self.codebook_size) < 1:
            raise ValueError(f"codebook_size must be >= 1, got {self.codebook_size}")

    # ids -----------------------------------------------------------------
    def special_id(self, name: str) -> int:
        """Id of the special token ``name`` (one of :data:`SPECIAL_TOKENS`, case-insensitive)."""
        try:
            return self.codebook_size + SPECIAL_TOKENS.index(name.upper())
        except ValueError:
            raise KeyError(f"unknown special token {name!r}; known: {', '.join(SPECIAL_TOKENS)}") from None

    @property
    def mask(self) -> int:
        return self.codebook_size + 0

    @property
    def eos(self) -> int:
        return self.codebook_size + 1

    @property
    def bos(self) -> int:
        return self.codebook_size + 2

    @property
    def pad(self) -> int:
        return self.codebook_size + 3

    @property
    def chainbreak(self) -> int:
        return self.codebook_size + 4

    @property
    def missing(self) -> int:
        return self.codebook_size + 5

    @property
    def size(self) -> int:
        """Total number of ids (codes + specials)."""
        return self.codebook_size + len(SPECIAL_TOKENS)

    @property
    def special_ids(self) -> dict[str, int]:
        """Name -> id of every special token, in id order."""
        return {name: self.codebook_size + i for i, name in enumerate(SPECIAL_TOKENS)}

    def is_code(self, tokens: np.ndarray) -> np.ndarray:
        """True where ``tokens`` (any shape, integer) is a codebook id ``0..K-1``."""
        tokens = np.asarray(tokens)
        return (tokens >= 0) & (tokens < self.codebook_size)

    def validate(self, tokens: np.ndarray, source: str = "<tokens>") -> np.ndarray:
        """Return ``tokens`` as int64, raising ``ValueError`` naming ``source`` if any id is out of range."""
        arr = np.asarray(tokens, dtype=np.int64)
        bad = (arr < 0) | (arr >= self.size)
        if bad.any():
            first = int(arr[bad].flat[0])
            raise ValueError(f"{source}: token id {first} is outside the vocabulary 0..{self.size - 1}")
        return arr

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (used by ``protok info``)."""
        return {
            "codebook_size": self.codebook_size,
            "size": self.size,
            "codes": [0, self.codebook_size - 1],
            "special_tokens": {
                name: {"id": i, "text": SPECIAL_TEXT[name]} for name, i in self.special_ids.items()
            },
        }
