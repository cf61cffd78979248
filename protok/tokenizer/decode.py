"""Decoding token files back into backbone structure files (``protok decode``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from protok.errors import TokenFileError
from protok.tokenizer.api import Tokenizer
from protok.tokenizer.result import TokenizedChain, parse_residue_ids
from protok.tokenizer.tokenfile import read_records

__all__ = ["decode_file", "record_to_chain"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def record_to_chain(rec: dict[str, Any], tok: Tokenizer, where: str = "<record>") -> TokenizedChain:
    """A token-file record as a :class:`TokenizedChain` (validating lengths and ids)."""
    tokens = np.asarray(rec["tokens"], dtype=np.int64)
    try:
        tokens = tok.vocab.validate(tokens, where)
    except ValueError as exc:
        raise TokenFileError(str(exc)) from None
    n = len(tokens)
    seq = rec.get("sequence") or "X" * n
    rids = rec.get("residue_ids") or [str(i) for i in range(1, n + 1)]
    if len(seq) != n or len(rids) != n:
        raise TokenFileError(f"{where}: {n} tokens but sequence {len(seq)} / residue_ids {len(rids)}")
    try:
        res_ids, ins_codes = parse_residue_ids(list(rids))
    except ValueError:
        raise TokenFileError(f"{where}: residue_ids are not numbers with optional insertion codes") from None
    return TokenizedChain(
        tokens=tokens,
        mask=tok.vocab.is_code(tokens),
        chain_id=str(rec["chain"]),
        res_ids=res_ids,
        ins_codes=ins_codes,
        sequence=seq,
        chain_breaks=np.zeros(n, dtype=bool),
        source=str(rec.get("source", where)),
        id=str(rec["id"]),
    )


def decode_file(
    tok: Tokenizer, path: str | os.PathLike[str], out_dir: str | os.PathLike[str], fmt: str = "pdb"
) -> list[Path]:
    """Write ``{id}_{chain}.{fmt}`` for every record of a token file; returns the written paths."""
    from protok.structures.write import write_structure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for n, rec in enumerate(read_records(path, tok.vocab), 1):
        t = record_to_chain(rec, tok, f"{path}: record {n}")
        chain = tok.decode(t)
        target = out / f"{_UNSAFE.sub('_', t.id)}_{_UNSAFE.sub('_', t.chain_id)}.{fmt}"
        write_structure(chain, target)
        written.append(target)
    return written
