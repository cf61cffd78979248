"""Token files: writing and reading ``.jsonl``, ``.parquet`` and ``.fasta`` records.

A record is one chain: ``{"id", "source", "chain", "length", "sequence", "tokens", "residue_ids"}``
(``residue_ids`` are strings, author number plus insertion code, e.g. ``"52A"``). FASTA keeps only
``>{id}_{chain}`` and the tokens in text form (:mod:`protok.tokenizer.text`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from protok.errors import TokenFileError
from protok.tokenizer.text import from_text, to_text
from protok.tokenizer.vocab import Vocabulary

__all__ = ["FORMATS", "RECORD_FIELDS", "format_of", "read_records", "write_records"]

RECORD_FIELDS: tuple[str, ...] = ("id", "source", "chain", "length", "sequence", "tokens", "residue_ids")
FORMATS: tuple[str, ...] = ("fasta", "jsonl", "parquet")


def format_of(path: str | os.PathLike[str]) -> str:
    """Token-file format from the extension (``.fasta``/``.fa``, ``.jsonl``, ``.parquet``)."""
    suffix = Path(path).suffix.lower()
    fmt = {".fasta": "fasta", ".fa": "fasta", ".jsonl": "jsonl", ".parquet": "parquet"}.get(suffix)
    if fmt is None:
        raise TokenFileError(
            f"{path}: unknown token file extension {suffix!r} (use .fasta, .jsonl or .parquet)"
        )
    return fmt


def fasta_text(records: Sequence[dict[str, Any]], vocab: Vocabulary) -> str:
    """FASTA-style text: ``>{id}_{chain}`` then the tokens in text form, per record."""
    return "".join(f">{r['id']}_{r['chain']}\n{to_text(r['tokens'], vocab)}\n" for r in records)


def _arrow_table(records: Sequence[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("chain", pa.string()),
            ("length", pa.int32()),
            ("sequence", pa.string()),
            ("tokens", pa.list_(pa.int32())),
            ("residue_ids", pa.list_(pa.string())),
        ]
    )
    cols = {f: [r[f] for r in records] for f in RECORD_FIELDS}
    return pa.table(cols, schema=schema)


def write_records(
    path: str | os.PathLike[str], records: Sequence[dict[str, Any]], fmt: str, vocab: Vocabulary
) -> None:
    """Write records to ``path`` in ``fmt`` (not atomic by itself; callers write to a temp name and rename)."""
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps({f: r[f] for f in RECORD_FIELDS}, separators=(",", ":")) + "\n")
    elif fmt == "fasta":
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(fasta_text(records, vocab))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(_arrow_table(records), path)
    else:
        raise TokenFileError(f"{path}: unknown format {fmt!r}")


def read_records(
    path: str | os.PathLike[str],
    vocab: Vocabulary | None = None,
    *,
    on_error: Callable[[TokenFileError], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Read records back (FASTA needs ``vocab`` to parse the token text; missing fields are filled in).

    A malformed record raises :class:`TokenFileError` naming the file and the record, or, with
    ``on_error``, is passed to it and skipped while reading goes on.
    """
    fmt = format_of(path)

    def bad(exc: TokenFileError) -> None:
        if on_error is None:
            raise exc
        on_error(exc)

    if fmt == "jsonl":
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    _check(rec, path, n)
                except json.JSONDecodeError as exc:
                    bad(TokenFileError(f"{path}: line {n} is not JSON ({exc.msg})"))
                except TokenFileError as exc:
                    bad(exc)
                else:
                    yield rec
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        for n, rec in enumerate(pq.read_table(path).to_pylist(), 1):
            try:
                _check(rec, path, n)
            except TokenFileError as exc:
                bad(exc)
            else:
                yield rec
    else:
        if vocab is None:
            raise TokenFileError(f"{path}: reading FASTA token text needs the model's vocabulary")
        header: str | None = None
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                if line.startswith(">"):
                    header = line[1:]
                    continue
                if header is None:
                    raise TokenFileError(f"{path}: line {n}: token text before any '>' header")
                entry, _, chain = header.rpartition("_")
                try:
                    tokens = from_text(line, vocab).tolist()
                except ValueError as exc:
                    bad(TokenFileError(f"{path}: line {n}: {exc}"))
                    header = None
                    continue
                yield {
                    "id": entry or header,
                    "source": str(path),
                    "chain": chain if entry else "A",
                    "length": len(tokens),
                    "sequence": "X" * len(tokens),
                    "tokens": tokens,
                    "residue_ids": [str(i) for i in range(1, len(tokens) + 1)],
                }
                header = None


def _check(rec: Any, path: Any, n: int) -> None:
    if not isinstance(rec, dict):
        raise TokenFileError(f"{path}: record {n} is not an object")
    missing = [f for f in ("id", "chain", "tokens") if f not in rec]
    if missing:
        raise TokenFileError(f"{path}: record {n} lacks field(s) {', '.join(missing)}")
