"""Crash-safe sharded output: shards written atomically plus a manifest, so ``--resume`` loses nothing.

Layout for an output ``OUT`` (e.g. ``tokens.jsonl``)::

    OUT.parts/part-000000.jsonl   finished shards (written as ``.tmp`` then renamed)
    OUT.parts/manifest.jsonl      one line per committed shard: its file, the inputs it covers, their errors
    OUT                           the merged result, written when the run completes (temp file + rename)
    OUT.errors.tsv                ``source<TAB>reason`` for every input that failed (one per output:
                                  ``tokens.jsonl.errors.tsv`` and ``tokens.parquet.errors.tsv`` never clash)

Commit order: shard temp file -> fsync -> rename -> manifest line appended and fsynced. An input counts as
done only once its manifest line is complete, so a ``kill -9`` at any moment leaves either a committed shard
or an orphan (a shard without a manifest line, or a torn last manifest line) that :class:`ShardStore`
deletes on resume; the orphan's inputs are redone. No input is ever lost or written twice.

Resuming retries the inputs that failed: those of the committed shards of an unfinished run, and those
listed in the errors file of a finished output (whose records are kept: the finished output becomes the
first shard of the resumed run and is replaced, merged with the new shards, only when that run completes).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protok.tokenizer.tokenfile import format_of, write_records
from protok.tokenizer.vocab import Vocabulary

__all__ = ["FailedInput", "ShardStore", "errors_path_for", "read_errors", "write_errors"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedInput:
    """An input that could not be tokenized, and why."""

    source: str
    reason: str


def errors_path_for(output: str | os.PathLike[str]) -> Path:
    """``tokens.jsonl`` -> ``tokens.jsonl.errors.tsv`` (next to the output; one per output file)."""
    p = Path(output)
    return p.with_name(p.name + ".errors.tsv")


def read_errors(path: str | os.PathLike[str]) -> list[FailedInput]:
    """The failed inputs listed in an errors file written by :meth:`ShardStore.write_errors` (none if absent)."""
    p = Path(path)
    if not p.is_file():
        return []
    lines = p.read_text(encoding="utf-8").splitlines()[1:]
    return [FailedInput(*line.split("\t", 1)) for line in lines if "\t" in line]


def _fsync_write(path: Path, text: str, mode: str = "w") -> None:
    with open(path, mode, encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


@dataclass
class ShardStore:
    """The sharded, resumable store behind ``protok tokenize -o OUT``.

    Parameters
    ----------
    output : path
        Final output file; its extension selects the format.
    vocab : Vocabulary
        For FASTA text.
    """

    output: Path
    vocab: Vocabulary
    done: set[str] = field(default_factory=set)
    failures: list[FailedInput] = field(default_factory=list)
    _entries: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.output = Path(self.output)
        self.fmt = format_of(self.output)
        self.parts = self.output.with_name(self.output.name + ".parts")
        self.manifest = self.parts / "manifest.jsonl"
        self.errors_path = errors_path_for(self.output)

    # ------------------------------------------------------------------ lifecycle
    @property
    def has_unfinished_run(self) -> bool:
        return self.parts.is_dir()

    def start(self, resume: bool) -> None:
        """Create the parts folder; with ``resume`` load the manifest and delete orphan shards."""
        if self.parts.is_dir() and not resume:
            raise FileExistsError(
                f"{self.parts}: an unfinished run exists; pass --resume to continue it or delete the folder"
            )
        self.parts.mkdir(parents=True, exist_ok=True)
        if resume:
            self._load_manifest()

    def _load_manifest(self) -> None:
        good: list[dict[str, Any]] = []
        if self.manifest.exists():
            raw = self.manifest.read_text(encoding="utf-8")
            for line in raw.splitlines(keepends=True):
                if not line.endswith("\n"):
                    break  # torn last line: its shard is an orphan
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break
                if (self.parts / entry["shard"]).exists():
                    good.append(entry)
            # rewrite the manifest without a torn tail
            tmp = self.manifest.with_suffix(".tmp")
            _fsync_write(tmp, "".join(json.dumps(e) + "\n" for e in good))
            os.replace(tmp, self.manifest)
        keep = {e["shard"] for e in good} | {"manifest.jsonl"}
        for f in self.parts.iterdir():
            if f.name not in keep:
                log.info("removing orphan shard %s", f)
                f.unlink()
        self._entries = good
        failed_last: dict[str, bool] = {}  # an input's latest outcome decides: failed ones are retried
        for e in good:
            failed_here = {f["source"] for f in e["failed"]}
            failed_last.update((src, src in failed_here) for src in e["sources"])
            # failures of inputs outside the run, carried over from a finished output (see reopen)
            self.failures.extend(FailedInput(**f) for f in e["failed"] if f["source"] not in e["sources"])
        self.done.update(src for src, failed in failed_last.items() if not failed)

    def reopen(self, inputs: Sequence[str]) -> list[str]:
        """Resume a finished output: the inputs among ``inputs`` that its errors file lists are to be retried.

        The finished output becomes the first shard of a new unfinished run (a hard link or copy, so it
        stays whole where it is until :meth:`finalize` replaces it with the merged result); every other input
        counts as done. Failures of inputs not in ``inputs`` are kept. Returns the inputs to retry (none:
        nothing is changed on disk).
        """
        earlier = read_errors(self.errors_path)
        wanted = set(inputs)
        retry = [f.source for f in earlier if f.source in wanted]
        self.failures = [f for f in earlier if f.source not in wanted]
        if not retry:
            return []
        self.parts.mkdir(parents=True, exist_ok=False)
        name = f"part-{0:06d}.{self.fmt}"
        tmp = self.parts / (name + ".tmp")
        try:
            os.link(self.output, tmp)
        except OSError:
            shutil.copyfile(self.output, tmp)
        os.replace(tmp, self.parts / name)
        again = set(retry)
        kept = [src for src in inputs if src not in again]
        carried = [{"source": f.source, "reason": f.reason} for f in self.failures]
        entry = {"shard": name, "sources": kept, "records": None, "failed": carried}
        _fsync_write(self.manifest, json.dumps(entry) + "\n", mode="a")
        self._entries.append(entry)
        self.done.update(kept)
        return retry

    # ------------------------------------------------------------------ commit
    def commit(
        self, records: Sequence[dict[str, Any]], sources: Sequence[str], failed: Sequence[FailedInput]
    ) -> None:
        """Write one shard holding ``records`` for ``sources`` (including the failed ones) atomically."""
        name = f"part-{len(self._entries):06d}.{self.fmt}"
        final = self.parts / name
        tmp = self.parts / (name + ".tmp")
        write_records(tmp, records, self.fmt, self.vocab)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        entry = {
            "shard": name,
            "sources": list(sources),
            "records": len(records),
            "failed": [{"source": f.source, "reason": f.reason} for f in failed],
        }
        _fsync_write(self.manifest, json.dumps(entry) + "\n", mode="a")
        self._entries.append(entry)
        self.done.update(sources)
        self.failures.extend(failed)

    # ------------------------------------------------------------------ finish
    def finalize(self) -> None:
        """Merge shards into the output and write the errors file (each via temp + rename); drop the parts."""
        tmp = self.output.with_name(self.output.name + ".tmp")
        shards = [self.parts / e["shard"] for e in self._entries]
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            from protok.tokenizer.tokenfile import _arrow_table

            schema = _arrow_table([]).schema
            with pq.ParquetWriter(tmp, schema) as writer:
                for s in shards:
                    writer.write_table(pq.read_table(s).cast(schema))
        else:
            with open(tmp, "wb") as out:
                for s in shards:
                    with open(s, "rb") as fh:
                        shutil.copyfileobj(fh, out)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        self.write_errors()
        os.replace(tmp, self.output)
        shutil.rmtree(self.parts)

    def write_errors(self) -> None:
        """Write ``source<TAB>reason`` lines (tabs/newlines in reasons become spaces); none -> no file."""
        write_errors(self.errors_path, self.failures)


def write_errors(
    path: str | os.PathLike[str], failures: Sequence[FailedInput], header: str = "source"
) -> None:
    """Write an errors file atomically: a ``{header}<TAB>reason`` line, then one line per failure (tabs and
    newlines in reasons become spaces). No failures: no file (an earlier one is removed)."""
    path = Path(path)
    if not failures:
        if path.exists():
            path.unlink()
        return
    lines = "".join(f"{f.source}\t{' '.join(f.reason.split())}\n" for f in failures)
    tmp = path.with_name(path.name + ".tmp")
    _fsync_write(tmp, f"{header}\treason\n" + lines)
    os.replace(tmp, path)
