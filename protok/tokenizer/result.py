"""The per-chain result of tokenization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["EncodedBatch", "TokenizedChain", "format_residue_ids", "numbering_breaks", "parse_residue_ids"]


def format_residue_ids(res_ids: np.ndarray, ins_codes: np.ndarray) -> list[str]:
    """Author residue numbers with insertion codes as strings, e.g. ``["51", "52", "52A", "53"]``."""
    return [f"{int(r)}{c}" for r, c in zip(res_ids.tolist(), ins_codes.tolist())]


def parse_residue_ids(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`format_residue_ids`: ``(res_ids int32, ins_codes <U1)``; ints are accepted too."""
    nums = np.zeros(len(values), dtype=np.int32)
    codes = np.full(len(values), "", dtype="<U1")
    for i, v in enumerate(values):
        s = str(v).strip()
        if s and s[-1].isalpha():
            codes[i] = s[-1]
            s = s[:-1]
        nums[i] = int(s)
    return nums, codes


def numbering_breaks(res_ids: np.ndarray) -> np.ndarray:
    """Chain breaks read from author residue numbers: True at residue i when its number is neither the
    previous one (an insertion code) nor the next, i.e. where residues are missing in between.

    Token files keep residue numbers but not the geometry the tokenizer found breaks in; this is the break
    information they carry. Returns shape=(L,), dtype=bool, False at i = 0."""
    out = np.zeros(len(res_ids), dtype=bool)
    step = np.diff(np.asarray(res_ids, dtype=np.int64))
    out[1:] = (step != 0) & (step != 1)
    return out


@dataclass(frozen=True, eq=False)
class TokenizedChain:
    """Structure tokens of one protein chain.

    Attributes
    ----------
    tokens : ndarray, shape=(L,), dtype=int64
        One id per residue: a code ``0..K-1``, or MISSING (``K + 5``) where the residue has no backbone
        frame (N, CA or C absent) and so no token. Never truncated: ``L`` is the chain length.
    mask : ndarray, shape=(L,), dtype=bool
        True where ``tokens`` is a code (the residue was encoded).
    chain_id : str
        Author chain id.
    res_ids : ndarray, shape=(L,), dtype=int32
        Author residue numbers.
    ins_codes : ndarray, shape=(L,), dtype='<U1'
        Insertion codes (``""`` where none).
    sequence : str
        One-letter amino acids, length L.
    chain_breaks : ndarray, shape=(L,), dtype=bool
        True where residue i is not bonded to residue i-1 (gaps inside the chain).
    source : str
        The file (or in-memory description) the chain came from.
    id : str
        Entry id: the file stem (``1abc`` for ``1abc.cif.gz``), or ``source`` for in-memory inputs.
    """

    tokens: np.ndarray
    mask: np.ndarray
    chain_id: str
    res_ids: np.ndarray
    ins_codes: np.ndarray
    sequence: str
    chain_breaks: np.ndarray
    source: str = "<memory>"
    id: str = "<memory>"

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def length(self) -> int:
        return len(self)

    def torch(self) -> torch.Tensor:
        """The tokens as a ``torch.long`` tensor sharing memory with :attr:`tokens` (no copy)."""
        return torch.from_numpy(self.tokens)

    @property
    def residue_ids(self) -> list[str]:
        """Residue numbers with insertion codes as strings (``"52A"``); see :func:`format_residue_ids`."""
        return format_residue_ids(self.res_ids, self.ins_codes)

    def to_record(self) -> dict[str, Any]:
        """The JSONL/Parquet record: ``id, source, chain, length, sequence, tokens, residue_ids``."""
        return {
            "id": self.id,
            "source": self.source,
            "chain": self.chain_id,
            "length": len(self),
            "sequence": self.sequence,
            "tokens": self.tokens.tolist(),
            "residue_ids": self.residue_ids,
        }

    def __repr__(self) -> str:
        return f"TokenizedChain(id={self.id!r}, chain_id={self.chain_id!r}, length={len(self)})"


class EncodedBatch(list[list[TokenizedChain]]):
    """What :meth:`protok.tokenizer.Tokenizer.encode_batch` returns: a list with one entry per input (a list of
    :class:`TokenizedChain`, one per chain), and ``failures``.

    With ``errors="skip"`` inputs that could not be tokenized are left out of the list and listed in
    ``failures`` as :class:`protok.tokenizer.store.FailedInput` (``source``, ``reason``); each chain names
    its input in ``source``. With ``errors="raise"`` ``failures`` is always empty.
    """

    def __init__(self, results: Any = (), failures: Any = ()) -> None:
        super().__init__(results)
        self.failures: list[Any] = list(failures)
