"""The per-file work of batch tokenization, shared by every executor (in-process, process pool, Ray).

:func:`parse_file` reads one structure file and builds each chain's residue graph; it never raises (a failure
comes back as a reason), so one bad file never stops a run. :func:`encode_group` encodes the chains of parsed
files and records a failure against the file that caused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from protok.errors import failure_reason
from protok.tokenizer.api import Featurized, Tokenizer, entry_id, featurize
from protok.tokenizer.store import FailedInput

__all__ = ["FileResult", "encode_group", "parse_file", "tokenize_files"]


@dataclass
class FileResult:
    """What :func:`parse_file` returns for one input: featurized chains, or the reason it failed."""

    source: str
    items: list[Featurized] = field(default_factory=list)
    error: str | None = None


def parse_file(
    source: str, chains: Sequence[str] | None = None, model: int | None = None, *, k: int
) -> FileResult:
    """Read one structure file and build the residue graph of each protein chain (pure, never raises).

    Parameters
    ----------
    source : str
        Path of a PDB / mmCIF / BinaryCIF file (gzip too).
    chains : sequence of str, optional
        Author chain ids to keep.
    model : int, optional
        1-based model number (default: first).
    k : int
        Neighbours per residue in the graph.

    Returns
    -------
    FileResult
        ``error`` is ``"<ExceptionType>: <reason>"`` when the file failed (no protein chain, corrupt, ...);
        the path is not repeated in it (it is the result's ``source``).
    """
    from protok.structures import read_structure

    try:
        kwargs: dict[str, Any] = {}
        if chains:
            kwargs["chains"] = list(chains)
        if model is not None:
            kwargs["model"] = model
        cx = read_structure(source, **kwargs)
        if len(cx.chains) == 0:
            skipped = "; ".join(f"{s.chain_id}: {s.reason}" for s in cx.skipped) or "no chains"
            return FileResult(source, error=f"NoProteinChainError: no protein chain ({skipped})")
        sid = entry_id(source)
        return FileResult(source, items=[featurize(c, k, sid) for c in cx.chains])
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, the run goes on
        return FileResult(source, error=failure_reason(exc, source))


def encode_group(
    tok: Tokenizer, group: Sequence[FileResult]
) -> tuple[list[dict[str, Any]], list[FailedInput]]:
    """Encode the chains of parsed files; records in file then chain order, and the failures.

    Should the encoder fail on the batch (a chain too large for memory, say), the failure is recorded
    against the file that caused it and the others still get their tokens (:meth:`Tokenizer.encode_groups`).
    """
    failed = [FailedInput(r.source, r.error) for r in group if r.error is not None]
    ok = [r for r in group if r.error is None]
    records: list[dict[str, Any]] = []
    for r, encoded in zip(ok, tok.encode_groups([r.items for r in ok])):
        if isinstance(encoded, Exception):
            failed.append(FailedInput(r.source, failure_reason(encoded, r.source)))
        else:
            records += [t.to_record() for t in encoded]
    order = {r.source: i for i, r in enumerate(group)}
    failed.sort(key=lambda f: order[f.source])
    return records, failed


def tokenize_files(
    tok: Tokenizer, files: Sequence[str], chains: Sequence[str] | None = None, model: int | None = None
) -> tuple[list[dict[str, Any]], list[FailedInput]]:
    """Parse and encode ``files`` in this process: :func:`parse_file` then :func:`encode_group`."""
    return encode_group(tok, [parse_file(f, chains, model, k=tok.k_neighbours) for f in files])
