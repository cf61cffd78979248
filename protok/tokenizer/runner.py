"""Batch tokenization of many files: a pure per-file function, swappable executors, sharded resumable output.

* :func:`parse_file` - the per-file function (read the structure, build each chain's residue graph). It never
  raises: failures come back as a reason string, so one bad file never stops a run.
* Executors: in-process, a bounded process pool (``workers``), or Ray Data (:mod:`protok.tokenizer.ray_engine`).
  Parsing runs ahead in the pool while the encoder (main process) tokenizes batches of chains.
* Output: :class:`protok.tokenizer.store.ShardStore` (``-o``) or FASTA text to a stream (stdout).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from protok.tokenizer.api import Featurized, Tokenizer, entry_id, featurize
from protok.tokenizer.store import FailedInput, ShardStore
from protok.tokenizer.tokenfile import fasta_text

__all__ = ["FileResult", "RunConfig", "RunSummary", "parse_file", "run_tokenize"]

log = logging.getLogger(__name__)

#: Below this many files, parsing stays in-process (starting worker processes costs seconds).
MIN_FILES_FOR_POOL: int = 32


@dataclass
class FileResult:
    """What :func:`parse_file` returns for one input: featurized chains, or the reason it failed."""

    source: str
    items: list[Featurized] = field(default_factory=list)
    error: str | None = None


def parse_file(
    source: str, chains: Sequence[str] | None = None, model: int | None = None, k: int = 16
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
        ``error`` is ``"<ExceptionType>: <message>"`` when the file failed (no protein chain, corrupt, ...).
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
        msg = str(exc)
        if source not in msg:
            msg = f"{source}: {msg}"
        return FileResult(source, error=f"{type(exc).__name__}: {msg}")


@dataclass
class RunConfig:
    """Options of one ``protok tokenize`` run (see the CLI for their meaning)."""

    inputs: list[str]
    output: Path | None = None
    chains: list[str] | None = None
    model: int | None = None
    workers: int = 0
    files_per_shard: int = 256
    resume: bool = False
    engine: str = "local"
    progress: bool = True
    model_name: str | None = None  # for the Ray engine: what each worker loads
    device: str = "cpu"


@dataclass
class RunSummary:
    """Counts of one run."""

    files: int = 0
    done_before: int = 0
    ok: int = 0
    failed: int = 0
    chains: int = 0
    residues: int = 0
    seconds: float = 0.0
    errors_path: Path | None = None
    failures: list[FailedInput] = field(default_factory=list)

    def line(self) -> str:
        rate = self.ok / self.seconds if self.seconds > 0 else 0.0
        where = f"; errors in {self.errors_path}" if self.failed and self.errors_path else ""
        resumed = f" ({self.done_before} done earlier)" if self.done_before else ""
        return (
            f"{self.ok + self.failed} of {self.files} files{resumed}: {self.ok} ok, {self.failed} failed, "
            f"{self.chains} chains, {self.residues} residues in {self.seconds:.1f} s ({rate:.1f} files/s){where}"
        )


def _parse_many(files: Sequence[str], cfg: RunConfig, k: int) -> Iterator[FileResult]:
    """Parse ``files`` in order, in-process or in a bounded process pool (at most 8 x workers in flight)."""
    if cfg.workers <= 0 or len(files) < MIN_FILES_FOR_POOL:
        for f in files:
            yield parse_file(f, cfg.chains, cfg.model, k)
        return
    window = max(4, 8 * cfg.workers)
    # "spawn": forking a process that already runs torch/OpenMP threads can deadlock the children
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=cfg.workers, mp_context=ctx, initializer=_worker_init) as pool:
        pending: deque[Future[FileResult]] = deque()
        it = iter(files)
        for f in it:
            pending.append(pool.submit(parse_file, f, cfg.chains, cfg.model, k))
            if len(pending) >= window:
                break
        while pending:
            res = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(parse_file, nxt, cfg.chains, cfg.model, k))
            yield res


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _groups(results: Iterable[FileResult], size: int) -> Iterator[list[FileResult]]:
    group: list[FileResult] = []
    for r in results:
        group.append(r)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def encode_group(
    tok: Tokenizer, group: Sequence[FileResult]
) -> tuple[list[dict[str, Any]], list[FailedInput]]:
    """Encode the chains of parsed files; records in file then chain order, and the failures."""
    failed = [FailedInput(r.source, r.error) for r in group if r.error is not None]
    items = [it for r in group if r.error is None for it in r.items]
    records = [t.to_record() for t in tok.encode_featurized(items)]
    return records, failed


def run_tokenize(
    tok: Tokenizer | None,
    cfg: RunConfig,
    stream: IO[str] | None = None,
    tokenizer_factory: Callable[[], Tokenizer] | None = None,
) -> RunSummary:
    """Tokenize ``cfg.inputs`` into ``cfg.output`` (sharded, resumable) or as FASTA text into ``stream``.

    Returns
    -------
    RunSummary
        ``failed > 0`` means some inputs were recorded in the errors file (or logged, for stream output).
    """
    t0 = time.perf_counter()
    if tok is None:
        if tokenizer_factory is None:
            raise ValueError("need a tokenizer or a tokenizer factory")
        tok = tokenizer_factory()
    summary = RunSummary(files=len(cfg.inputs))
    store: ShardStore | None = None
    todo = list(cfg.inputs)
    if cfg.output is not None:
        store = ShardStore(Path(cfg.output), tok.vocab)
        summary.errors_path = store.errors_path
        if cfg.resume and not store.has_unfinished_run and store.output.exists():
            log.info("%s is complete; nothing to resume", store.output)
            summary.done_before = len(todo)
            summary.seconds = time.perf_counter() - t0
            return summary
        store.start(cfg.resume)
        summary.done_before = len(store.done & set(todo))
        todo = [f for f in todo if f not in store.done]

    bar = _progress(cfg, total=len(cfg.inputs), initial=summary.done_before)

    def handle(records: list[dict[str, Any]], sources: list[str], failed: list[FailedInput]) -> None:
        if store is not None:
            store.commit(records, sources, failed)
        else:
            out = stream if stream is not None else sys.stdout
            out.write(fasta_text(records, tok.vocab))
            out.flush()
            for f in failed:
                log.warning("failed: %s: %s", f.source, f.reason)
        summary.failed += len(failed)
        summary.ok += len(sources) - len(failed)
        summary.failures.extend(failed)
        summary.chains += len(records)
        summary.residues += sum(r["length"] for r in records)
        if bar is not None:
            bar.update(len(sources))

    try:
        if cfg.engine == "ray":
            from protok.tokenizer.ray_engine import run_ray

            for records, sources, failed in run_ray(todo, cfg, tok):
                handle(records, sources, failed)
        elif cfg.engine == "local":
            for group in _groups(_parse_many(todo, cfg, tok.k_neighbours), cfg.files_per_shard):
                records, failed = encode_group(tok, group)
                handle(records, [r.source for r in group], failed)
        else:
            raise ValueError(f"unknown engine {cfg.engine!r} (local or ray)")
    finally:
        if bar is not None:
            bar.close()
    if store is not None:
        store.finalize()
        summary.failures = list(store.failures)
        summary.failed = len(store.failures)
        summary.ok = len(store.done & set(cfg.inputs)) - summary.failed
    summary.seconds = time.perf_counter() - t0
    return summary


def _progress(cfg: RunConfig, total: int, initial: int) -> Any:
    if not cfg.progress:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total, initial=initial, unit="file", desc="tokenize", file=sys.stderr, dynamic_ncols=True
    )


def default_workers() -> int:
    """Parsing processes by default: one per spare core (the main process runs the encoder)."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))
