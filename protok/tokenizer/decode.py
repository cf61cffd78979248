"""Decoding token files back into backbone structure files (``protok decode``).

One file per record, ``{id}_{chain}.pdb`` (or ``.cif``) under the output folder; a record id with ``/`` in it
(:func:`protok.tokenizer.inputs.record_ids`) becomes subfolders. A record whose chain does not fit the PDB
format (a chain id of two characters, say) is written as mmCIF instead. A record that cannot be decoded or
written is listed in the errors file ``OUT.errors.tsv`` beside the folder, and the others are written. No
file written in a run is overwritten in the same run: a name already taken, ignoring case (chains ``AA`` and
``Aa`` on a case-insensitive file system), gets ``-2``, ``-3``, ...

Records are decoded several per decoder call (:meth:`Tokenizer.decode_batch`), in this process and, when
asked for (``--workers``) and from :data:`MIN_RECORDS_FOR_POOL` records, in worker processes as well
(:mod:`protok.tokenizer.workers`). On the 2-core development machine, shared with other jobs, one process was
faster than three (``benchmarks/decode_speed.py --workers 0`` vs ``--workers 2``), so the command's default
is none.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from protok.errors import TokenFileError, failure_reason
from protok.structures.chain import ProteinChain
from protok.tokenizer.api import Tokenizer
from protok.tokenizer.result import TokenizedChain, numbering_breaks, parse_residue_ids
from protok.tokenizer.store import FailedInput, errors_path_for, write_errors
from protok.tokenizer.tokenfile import read_records
from protok.tokenizer.workers import WorkerPool, local_workers, worker_tokenizer

__all__ = [
    "CHUNK_RECORDS",
    "MIN_RECORDS_FOR_POOL",
    "DecodeSummary",
    "count_records",
    "decode_file",
    "decode_records",
    "decoded_title",
    "local_decoders",
    "record_to_chain",
]

#: Records per unit of work (one decoder call or a few).
CHUNK_RECORDS: int = 16
#: From this many records, worker processes decode beside this one (each needs ~2 s to start).
MIN_RECORDS_FOR_POOL: int = 64

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def local_decoders(
    workers: int, tokens: Path, model: str | None, *, device: str = "cpu"
) -> contextlib.AbstractContextManager[WorkerPool | None]:
    """Set this process up to decode the token file ``tokens``: ``workers`` decoding processes on a CPU from
    :data:`MIN_RECORDS_FOR_POOL` records, and one torch thread here (several threads per process collapse on
    a busy machine; processes scale), restored on exit. The pool goes to :func:`decode_file`."""
    start = device == "cpu" and workers > 0 and count_records(tokens) >= MIN_RECORDS_FOR_POOL
    return local_workers(workers, model, start=start, threads=1)


def count_records(path: Path) -> int:
    """Records in a token file, roughly (lines of JSONL / FASTA text; Parquet: its row count)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def record_to_chain(rec: dict[str, Any], tok: Tokenizer, where: str = "<record>") -> TokenizedChain:
    """A token-file record as a :class:`TokenizedChain` (validating lengths and ids); chain breaks where the
    residue numbering jumps (:func:`protok.tokenizer.result.numbering_breaks`)."""
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
        chain_breaks=numbering_breaks(res_ids),
        source=str(rec.get("source", where)),
        id=str(rec["id"]),
    )


def decoded_title(tok: Tokenizer, idealize: bool = True) -> str:
    """The title of a decoded file: what it is, and the model and protok version that made it."""
    from protok import __version__

    name = tok.card.get("name") or tok.name
    how = "; peptide geometry idealized" if idealize else ""
    return f"Backbone (N, CA, C, O) decoded from structure tokens by protok model {name} (protok {__version__}){how}"


def decode_records(
    tok: Tokenizer, records: Sequence[tuple[str, dict[str, Any]]], idealize: bool = True
) -> list[ProteinChain | str]:
    """Decode ``(where, record)`` pairs several per decoder call; per record its backbone, or the reason it
    failed (``"ErrorType: reason"``): a bad record never stops the others. ``idealize`` as in
    :meth:`Tokenizer.decode`."""
    out: list[ProteinChain | str] = []
    chains: list[TokenizedChain] = []
    slots: list[int] = []
    for where, rec in records:
        try:
            chains.append(record_to_chain(rec, tok, where))
            slots.append(len(out))
            out.append("")
        except Exception as exc:  # noqa: BLE001 - recorded against its record
            out.append(failure_reason(exc, where))
    try:
        decoded: list[ProteinChain | str] = list(tok.decode_batch(chains, idealize=idealize))
    except Exception:  # noqa: BLE001 - decode one at a time to find the record that fails
        decoded = []
        for t in chains:
            try:
                decoded.append(tok.decode_batch([t], idealize=idealize)[0])
            except Exception as exc:  # noqa: BLE001
                decoded.append(failure_reason(exc))
    for i, d in zip(slots, decoded):
        out[i] = d
    return out


def _decode_in_worker(
    records: Sequence[tuple[str, dict[str, Any]]], idealize: bool
) -> list[ProteinChain | str]:
    return decode_records(worker_tokenizer(), records, idealize)


@dataclass
class DecodeSummary:
    """What one :func:`decode_file` run did."""

    records: int = 0
    written: list[Path] = field(default_factory=list)
    as_cif: int = 0
    renamed: int = 0
    residues: int = 0
    failures: list[FailedInput] = field(default_factory=list)
    errors_path: Path | None = None
    seconds: float = 0.0

    def line(self) -> str:
        """One line for the command's summary; every count is what is on disk."""
        rate = self.residues / self.seconds if self.seconds > 0 else 0.0
        notes = []
        if self.as_cif:
            notes.append(
                f"{self.as_cif} as mmCIF because they do not fit the PDB format (e.g. 2-character chain ids)"
            )
        if self.renamed:
            notes.append(f"{self.renamed} with a -N suffix: their name, ignoring case, was taken in this run")
        extra = f" ({'; '.join(notes)})" if notes else ""
        where = f"; errors in {self.errors_path}" if self.failures and self.errors_path else ""
        return (
            f"{self.records} records: wrote {len(self.written)} files{extra}, {len(self.failures)} failed, "
            f"{self.residues} residues in {self.seconds:.1f} s ({rate:.0f} residues/s){where}"
        )


class _Names:
    """Output paths for records: ``{id}_{chain}.{fmt}``, ``/`` in ids as subfolders, never one path twice."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.taken: set[str] = set()

    def path(self, rec: dict[str, Any], fmt: str) -> tuple[Path, bool]:
        parts = [_safe(p) for p in str(rec["id"]).split("/") if p.strip()] or ["record"]
        stem = f"{parts[-1]}_{_safe(str(rec['chain']))}"
        folder = self.root.joinpath(*parts[:-1])
        n = 1
        candidate = folder / f"{stem}.{fmt}"
        while str(candidate).lower() in self.taken:  # case-folded: case-insensitive file systems too
            n += 1
            candidate = folder / f"{stem}-{n}.{fmt}"
        self.taken.add(str(candidate).lower())
        return candidate, n > 1


def _safe(part: str) -> str:
    part = _UNSAFE.sub("_", part.strip())
    return "_" if part in ("", ".", "..") else part


def _chunk_results(
    tok: Tokenizer, chunks: list[list[tuple[str, dict[str, Any]]]], pool: WorkerPool | None, idealize: bool
) -> Iterator[list[ProteinChain | str]]:
    """Decoded chunks in order: queued for ``pool``'s workers, and decoded here when no worker has
    started the next one yet (while workers start, this process does the work)."""
    if pool is None:
        for chunk in chunks:
            yield decode_records(tok, chunk, idealize)
        return
    window = 4 * max(1, len(pool.started))
    pending: deque[tuple[int, Future[list[ProteinChain | str]]]] = deque()
    nxt = 0
    for i, chunk in enumerate(chunks):
        while nxt < len(chunks) and nxt < i + window:
            pending.append((nxt, pool.executor.submit(_decode_in_worker, chunks[nxt], idealize)))
            nxt += 1
        j, fut = pending.popleft()
        assert j == i
        yield decode_records(tok, chunk, idealize) if fut.cancel() else fut.result()


def decode_file(
    tok: Tokenizer,
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fmt: str = "pdb",
    *,
    pool: WorkerPool | None = None,
    progress: bool = False,
    idealize: bool = True,
) -> DecodeSummary:
    """Write ``{id}_{chain}.{fmt}`` under ``out_dir`` for every record of a token file.

    Parameters
    ----------
    tok : Tokenizer
        The model the tokens were made with.
    path : path
        A ``.jsonl``, ``.parquet`` or ``.fasta`` token file.
    out_dir : path
        Output folder (created); failed records go to ``{out_dir}.errors.tsv`` beside it.
    fmt : {"pdb", "cif"}
        File format; a record that does not fit the PDB format is written as mmCIF.
    pool : WorkerPool, optional
        Started with the same model (:func:`protok.tokenizer.workers.start_pool`): its workers decode
        too; the caller owns it.
    progress : bool
        A progress bar (records) on stderr.
    idealize : bool
        Write the nearest ideal backbone to the decoder's atoms (:meth:`Tokenizer.decode`), or the
        decoder's atoms as they are.

    Returns
    -------
    DecodeSummary
        Files written, records written as mmCIF, failures (also in the errors file).
    """
    from biotite.structure import BadStructureError

    from protok.structures.write import write_structure

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    errors_path = errors_path_for(out.resolve())
    summary = DecodeSummary(errors_path=errors_path)
    bad: list[FailedInput] = []
    items = [
        (f"{path}:{n} {rec.get('id')}_{rec.get('chain')}", rec)
        for n, rec in enumerate(
            read_records(
                path, tok.vocab, on_error=lambda e: bad.append(FailedInput(str(path), failure_reason(e)))
            ),
            1,
        )
    ]
    summary.failures += bad
    summary.records = len(items) + len(bad)
    chunks = [items[s : s + CHUNK_RECORDS] for s in range(0, len(items), CHUNK_RECORDS)]
    title = decoded_title(tok, idealize)
    names = _Names(out)
    bar = _progress(progress, len(items))
    try:
        for chunk, results in zip(chunks, _chunk_results(tok, chunks, pool, idealize)):
            for (where, rec), result in zip(chunk, results):
                if isinstance(result, str):
                    summary.failures.append(FailedInput(where, result))
                    continue
                target, renamed = names.path(rec, fmt)
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        write_structure(result, target, title=title)
                    except BadStructureError:
                        if fmt != "pdb":
                            raise
                        target, renamed = names.path(rec, "cif")
                        write_structure(result, target, title=title)
                        summary.as_cif += 1
                except Exception as exc:  # noqa: BLE001 - recorded, the others are written
                    summary.failures.append(FailedInput(where, failure_reason(exc, target)))
                    continue
                summary.written.append(target)
                summary.renamed += renamed
                summary.residues += len(result)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    write_errors(errors_path, summary.failures, header="record")
    summary.seconds = time.perf_counter() - t0
    return summary


def _progress(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="chain", desc="decode", file=sys.stderr, dynamic_ncols=True)
