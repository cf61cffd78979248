"""Helpers that turn structure tokens into language-model inputs.

* SaProt-style interleaving: each residue becomes one *pair* token combining its amino acid and its
  structure token (SaProt pairs an upper-case residue letter with a lower-case 3Di letter, ``#`` when the
  structure token is masked). protok codes are numbers, so the pair id is
  ``aa * (K + 1) + s`` with ``aa`` the index in :data:`AA_ALPHABET` (20 = ``X``) and ``s`` the code, or
  ``K`` (``#``) when the residue has no code (MISSING, MASK). ``21 * (K + 1)`` pair ids, then the pair
  vocabulary's own MASK, EOS, BOS, PAD and CHAINBREAK (:class:`protok.tokenizer.vocab.PairVocabulary`,
  ``vocab.pairs``). Text form: ``"M17 A402 G#"``.
* LM-ready batches: :func:`collate` pads token sequences (optionally with BOS/EOS) into ``(B, T)`` tensors
  with an attention mask; ``collate(pair_rows, vocab.pairs)`` does the same for pair ids. Nothing is
  truncated: a sequence longer than ``max_length`` raises :class:`protok.errors.ChainTooLongError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from protok.errors import ChainTooLongError
from protok.tokenizer.vocab import PairVocabulary, Vocabulary

__all__ = [
    "AA_ALPHABET",
    "LMBatch",
    "collate",
    "deinterleave",
    "deinterleave_text",
    "interleave",
    "interleave_text",
    "join_chains",
    "pair_vocab_size",
]

#: Amino-acid order of pair ids (same as ``protok.graph.AA_ALPHABET``); index 20 is ``X`` (anything else).
AA_ALPHABET: str = "ACDEFGHIKLMNPQRSTVWY"
_AA_LOOKUP = np.full(256, 20, dtype=np.int64)
for _i, _a in enumerate(AA_ALPHABET):
    _AA_LOOKUP[ord(_a)] = _i
    _AA_LOOKUP[ord(_a.lower())] = _i


def pair_vocab_size(vocab: Vocabulary) -> int:
    """Number of SaProt-style pair ids: ``21 * (K + 1)``."""
    return 21 * (vocab.codebook_size + 1)


def _aa_index(sequence: str) -> np.ndarray:
    raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
    return _AA_LOOKUP[raw]


def interleave(sequence: str, tokens: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """Combine amino acids and structure tokens into one pair id per residue.

    Parameters
    ----------
    sequence : str
        One-letter amino acids, length L (unknown letters count as ``X``).
    tokens : ndarray, shape=(L,), dtype=int
        Structure token ids of the same chain (codes; MISSING / MASK become ``#``).
    vocab : Vocabulary

    Returns
    -------
    ndarray, shape=(L,), dtype=int64
        ``aa * (K + 1) + s``; batch such rows with ``collate(rows, vocab.pairs)``.
    """
    tok = vocab.validate(tokens)
    if len(sequence) != len(tok):
        raise ValueError(f"sequence length {len(sequence)} != {len(tok)} tokens")
    n_codes = vocab.codebook_size
    if np.isin(tok, [vocab.pad, vocab.bos, vocab.eos, vocab.chainbreak]).any():
        raise ValueError("interleave takes one chain's residue tokens (no PAD/BOS/EOS/CHAINBREAK)")
    s = np.where(vocab.is_code(tok), tok, n_codes)
    return _aa_index(sequence) * (n_codes + 1) + s


def deinterleave(pairs: np.ndarray, vocab: Vocabulary) -> tuple[str, np.ndarray]:
    """Inverse of :func:`interleave`: ``(sequence, tokens)``; ``#`` positions come back as MISSING."""
    pairs = np.asarray(pairs, dtype=np.int64)
    n_codes = vocab.codebook_size
    if ((pairs < 0) | (pairs >= pair_vocab_size(vocab))).any():
        raise ValueError(f"pair id outside 0..{pair_vocab_size(vocab) - 1}")
    aa, s = np.divmod(pairs, n_codes + 1)
    letters = np.frombuffer((AA_ALPHABET + "X").encode(), dtype=np.uint8)[aa]
    tokens = np.where(s == n_codes, vocab.missing, s)
    return letters.tobytes().decode(), tokens


def interleave_text(sequence: str, tokens: np.ndarray, vocab: Vocabulary) -> str:
    """Pair text, one word per residue: amino acid then code (or ``#``), e.g. ``"M17 A402 G#"``."""
    pairs = interleave(sequence, tokens, vocab)
    n_codes = vocab.codebook_size
    aa, s = np.divmod(pairs, n_codes + 1)
    letters = AA_ALPHABET + "X"
    return " ".join(f"{letters[a]}{'#' if c == n_codes else c}" for a, c in zip(aa.tolist(), s.tolist()))


def deinterleave_text(text: str, vocab: Vocabulary) -> tuple[str, np.ndarray]:
    """Parse pair text back into ``(sequence, tokens)`` (``#`` -> MISSING)."""
    seq: list[str] = []
    toks: list[int] = []
    for word in text.split():
        aa, rest = word[:1], word[1:]
        if not aa.isalpha() or not (rest == "#" or rest.isdigit()):
            raise ValueError(f"not a pair token: {word!r}")
        seq.append(aa)
        code = vocab.missing if rest == "#" else int(rest)
        if rest != "#" and code >= vocab.codebook_size:
            raise ValueError(f"code {code} is outside the codebook 0..{vocab.codebook_size - 1}")
        toks.append(code)
    return "".join(seq), np.asarray(toks, dtype=np.int64)


def join_chains(chain_tokens: Sequence[np.ndarray], vocab: Vocabulary | PairVocabulary) -> np.ndarray:
    """Concatenate several chains' tokens with an explicit CHAINBREAK between consecutive chains.

    Works for structure tokens (``vocab``) and for pair ids (``vocab.pairs``).

    Returns
    -------
    ndarray, shape=(sum(L_i) + n_chains - 1,), dtype=int64
    """
    parts: list[np.ndarray] = []
    brk = np.array([vocab.chainbreak], dtype=np.int64)
    for i, t in enumerate(chain_tokens):
        if i:
            parts.append(brk)
        parts.append(vocab.validate(t))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


@dataclass
class LMBatch:
    """A padded batch of token sequences.

    Attributes
    ----------
    input_ids : Tensor, shape=(B, T), dtype=long
        Tokens, right-padded with PAD.
    attention_mask : Tensor, shape=(B, T), dtype=bool
        True on real tokens (including BOS/EOS), False on padding.
    lengths : Tensor, shape=(B,), dtype=long
        Number of real tokens per row.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    lengths: torch.Tensor

    def to(self, device: str | torch.device) -> LMBatch:
        return LMBatch(self.input_ids.to(device), self.attention_mask.to(device), self.lengths.to(device))


def collate(
    sequences: Sequence[np.ndarray],
    vocab: Vocabulary | PairVocabulary,
    *,
    add_bos_eos: bool = True,
    max_length: int | None = None,
    pad_to_multiple_of: int | None = None,
) -> LMBatch:
    """Pad token sequences into LM-ready tensors.

    Parameters
    ----------
    sequences : sequence of ndarray, each shape=(L_i,), dtype=int
        Token ids (a chain, or a complex joined by :func:`join_chains`), or pair ids from
        :func:`interleave`.
    vocab : Vocabulary or PairVocabulary
        ``tok.vocab`` for structure tokens, ``tok.vocab.pairs`` for pair ids: its BOS, EOS and PAD are used.
    add_bos_eos : bool
        Wrap each sequence as ``BOS ... EOS``.
    max_length : int, optional
        Longest allowed row (after BOS/EOS). Longer rows raise :class:`ChainTooLongError` - never truncated.
    pad_to_multiple_of : int, optional
        Round T up to a multiple of this (tensor-core friendly shapes).

    Returns
    -------
    LMBatch

    Examples
    --------
    >>> v = Vocabulary(512)
    >>> pairs = interleave("MK", np.array([17, v.missing]), v)
    >>> collate([pairs], v.pairs).input_ids.tolist()
    [[10775, 5147, 4616, 10774]]
    """
    rows = [vocab.validate(s) for s in sequences]
    if add_bos_eos:
        rows = [np.concatenate([[vocab.bos], r, [vocab.eos]]).astype(np.int64) for r in rows]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    if max_length is not None and len(rows) and lengths.max() > max_length:
        i = int(lengths.argmax())
        raise ChainTooLongError(f"sequence {i} has {lengths[i]} tokens, more than max_length={max_length}")
    t = int(lengths.max()) if len(rows) else 0
    if pad_to_multiple_of:
        t = -(-t // pad_to_multiple_of) * pad_to_multiple_of
    ids = np.full((len(rows), t), vocab.pad, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    mask = np.arange(t)[None, :] < lengths[:, None]
    return LMBatch(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(lengths))
