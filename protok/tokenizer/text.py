"""Compact text form of structure-token sequences (for FASTA output and text pipelines).

Format (frozen): tokens separated by single spaces; a codebook id is written in decimal
(``0``..``K-1``); a special token by its fixed text (:data:`protok.tokenizer.vocab.SPECIAL_TEXT`):
``<mask> <eos> <bos> <pad>``, ``|`` for CHAINBREAK and ``#`` for MISSING (no backbone, no token).
An empty sequence is the empty string. ``from_text(to_text(t)) == t`` for every valid ``t``.

Example: ``"17 402 # 3 | 88 5"`` is a 3-residue chain whose second residue lacks a backbone, a chain break,
then a 2-residue chain.
"""

from __future__ import annotations

import numpy as np

from protok.tokenizer.vocab import SPECIAL_TEXT, Vocabulary

__all__ = ["from_text", "to_text"]


def to_text(tokens: np.ndarray, vocab: Vocabulary) -> str:
    """Write token ids as compact text.

    Parameters
    ----------
    tokens : ndarray, shape=(L,), dtype=int
        Token ids in ``0..vocab.size-1``.
    vocab : Vocabulary

    Returns
    -------
    str
        Space-separated tokens.

    Examples
    --------
    >>> import numpy as np
    >>> v = Vocabulary(512)
    >>> to_text(np.array([17, 402, v.missing, 3, v.chainbreak, 88]), v)
    '17 402 # 3 | 88'
    """
    arr = vocab.validate(tokens)
    table = np.array([str(i) for i in range(vocab.codebook_size)] + list(SPECIAL_TEXT.values()), dtype=object)
    return " ".join(table[arr].tolist())


def from_text(text: str, vocab: Vocabulary) -> np.ndarray:
    """Parse compact text back into token ids.

    Parameters
    ----------
    text : str
        As written by :func:`to_text` (any run of whitespace separates tokens).
    vocab : Vocabulary

    Returns
    -------
    ndarray, shape=(L,), dtype=int64

    Raises
    ------
    ValueError
        On an unknown word or a code outside ``0..K-1``.
    """
    specials = {t: vocab.codebook_size + i for i, t in enumerate(SPECIAL_TEXT.values())}
    out: list[int] = []
    for word in text.split():
        sid = specials.get(word)
        if sid is not None:
            out.append(sid)
            continue
        if not word.isdigit():
            raise ValueError(f"not a structure token: {word!r}")
        value = int(word)
        if value >= vocab.codebook_size:
            raise ValueError(f"code {value} is outside the codebook 0..{vocab.codebook_size - 1}")
        out.append(value)
    return np.asarray(out, dtype=np.int64)
