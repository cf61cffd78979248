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

SaProt-style pair tokens (:func:`protok.tokenizer.lm.interleave`, one id per residue for its amino acid and
structure token) have their own :class:`PairVocabulary` (``vocab.pairs``)::

    0 .. P-1    pair ids aa * (K + 1) + s, with P = 21 * (K + 1)
    P + 0       MASK
    P + 1       EOS
    P + 2       BOS
    P + 3       PAD
    P + 4       CHAINBREAK

(a residue without a structure token is a pair with ``s = K``, written ``#``, so pairs need no MISSING).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

__all__ = ["PAIR_SPECIAL_TOKENS", "SPECIAL_TOKENS", "SPECIAL_TEXT", "PairVocabulary", "Vocabulary"]

#: Special token names in id order, starting at id ``K``.
SPECIAL_TOKENS: tuple[str, ...] = ("MASK", "EOS", "BOS", "PAD", "CHAINBREAK", "MISSING")

#: Special tokens of the pair vocabulary in id order, starting right after the pair ids.
PAIR_SPECIAL_TOKENS: tuple[str, ...] = ("MASK", "EOS", "BOS", "PAD", "CHAINBREAK")

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


class _SpecialIds:
    """Named special-token ids right after ``regular`` ordinary ids (what both vocabularies share)."""

    names: ClassVar[tuple[str, ...]]
    codebook_size: int

    def __post_init__(self) -> None:
        if int(self.codebook_size) < 1:
            raise ValueError(f"codebook_size must be >= 1, got {self.codebook_size}")

    @property
    def regular(self) -> int:
        """Number of ordinary ids (structure codes, or pair ids) before the first special id."""
        raise NotImplementedError

    def special_id(self, name: str) -> int:
        """Id of the special token ``name`` (case-insensitive)."""
        try:
            return self.regular + self.names.index(name.upper())
        except ValueError:
            raise KeyError(f"unknown special token {name!r}; known: {', '.join(self.names)}") from None

    @property
    def mask(self) -> int:
        return self.special_id("MASK")

    @property
    def eos(self) -> int:
        return self.special_id("EOS")

    @property
    def bos(self) -> int:
        return self.special_id("BOS")

    @property
    def pad(self) -> int:
        return self.special_id("PAD")

    @property
    def chainbreak(self) -> int:
        return self.special_id("CHAINBREAK")

    @property
    def size(self) -> int:
        """Total number of ids (ordinary + specials)."""
        return self.regular + len(self.names)

    @property
    def special_ids(self) -> dict[str, int]:
        """Name -> id of every special token, in id order."""
        return {name: self.regular + i for i, name in enumerate(self.names)}

    def validate(self, tokens: np.ndarray, source: str = "<tokens>") -> np.ndarray:
        """Return ``tokens`` as int64, raising ``ValueError`` naming ``source`` if any id is out of range."""
        arr = np.asarray(tokens, dtype=np.int64)
        bad = (arr < 0) | (arr >= self.size)
        if bad.any():
            first = int(arr[bad].flat[0])
            raise ValueError(f"{source}: token id {first} is outside the vocabulary 0..{self.size - 1}")
        return arr

    def _specials_dict(self) -> dict[str, dict[str, object]]:
        return {name: {"id": i, "text": SPECIAL_TEXT[name]} for name, i in self.special_ids.items()}


@dataclass(frozen=True)
class Vocabulary(_SpecialIds):
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
    names: ClassVar[tuple[str, ...]] = SPECIAL_TOKENS

    @property
    def regular(self) -> int:
        return self.codebook_size

    @property
    def missing(self) -> int:
        return self.special_id("MISSING")

    @property
    def pairs(self) -> PairVocabulary:
        """The vocabulary of SaProt-style pair ids built from this one (see :class:`PairVocabulary`)."""
        return PairVocabulary(self.codebook_size)

    def is_code(self, tokens: np.ndarray) -> np.ndarray:
        """True where ``tokens`` (any shape, integer) is a codebook id ``0..K-1``."""
        tokens = np.asarray(tokens)
        return (tokens >= 0) & (tokens < self.codebook_size)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (used by ``protok info``)."""
        return {
            "codebook_size": self.codebook_size,
            "size": self.size,
            "codes": [0, self.codebook_size - 1],
            "special_tokens": self._specials_dict(),
        }


@dataclass(frozen=True)
class PairVocabulary(_SpecialIds):
    """Ids of SaProt-style pair tokens (amino acid x structure token) and their special tokens.

    Pair ids ``aa * (K + 1) + s`` fill ``0 .. 21 * (K + 1) - 1`` (:func:`protok.tokenizer.lm.interleave`);
    MASK, EOS, BOS, PAD and CHAINBREAK follow, in the order of :class:`Vocabulary`. Pass it to
    :func:`protok.tokenizer.lm.collate` to batch pair ids.

    Parameters
    ----------
    codebook_size : int
        K of the structure vocabulary the pairs are built from.

    Examples
    --------
    >>> p = Vocabulary(512).pairs
    >>> p.regular, p.mask, p.eos, p.bos, p.pad, p.chainbreak, p.size
    (10773, 10773, 10774, 10775, 10776, 10777, 10778)
    """

    codebook_size: int
    names: ClassVar[tuple[str, ...]] = PAIR_SPECIAL_TOKENS

    @property
    def regular(self) -> int:
        return 21 * (self.codebook_size + 1)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (used by ``protok info``)."""
        return {
            "size": self.size,
            "pairs": [0, self.regular - 1],
            "pair_id": "aa * (K + 1) + s; aa: ACDEFGHIKLMNPQRSTVWY then X (20); s: code, or K (#) for none",
            "special_tokens": self._specials_dict(),
        }
