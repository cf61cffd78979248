"""Batch tokenization of many files: a pure per-file function, swappable executors, sharded resumable output.

* :mod:`protok.tokenizer.per_file` - the per-file work (read the structure, build each chain's residue graph,
  encode); it never raises: failures come back as a reason string, so one bad file never stops a run.
* Executors: in-process, a bounded process pool (``workers``), or Ray Data (:mod:`protok.tokenizer.ray_engine`).
  On a CPU the pool's processes and the main one each parse *and* encode chunks of files (only token
  records travel between processes); with a GPU encoder the pool parses ahead while the main process
  encodes batches of chains.
* Output: :class:`protok.tokenizer.store.ShardStore` (``-o``) or FASTA text to a stream (stdout).
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from protok.tokenizer.api import Tokenizer
from protok.tokenizer.config import TokenizeConfig
from protok.tokenizer.inputs import record_ids
from protok.tokenizer.per_file import FileResult, encode_group, parse_file, tokenize_files
from protok.tokenizer.store import FailedInput, ShardStore
from protok.tokenizer.tokenfile import fasta_text
from protok.tokenizer.vocab import Vocabulary
from protok.tokenizer.workers import WorkerPool, pool_worthwhile, start_pool, worker_tokenizer

__all__ = ["RunSummary", "run_tokenize"]

log = logging.getLogger(__name__)

#: Files per chunk, the unit of work: a process parses and encodes one chunk at a time (with a GPU encoder,
#: the main process encodes one chunk of parsed files at a time). Shards are still committed whole.
CHUNK_FILES: int = 16
#: Parsed files the pool may hold ready per worker, ahead of the encoder.
PREFETCH_PER_WORKER: int = 32
#: Chunks of :data:`CHUNK_FILES` files a worker that parses and encodes may run ahead.
PREFETCH_CHUNKS_PER_WORKER: int = 4


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


def _parse_many(files: Sequence[str], cfg: TokenizeConfig, k: int) -> Iterator[FileResult]:
    """Parse ``files`` in order, in-process or in a bounded process pool (at most
    ``PREFETCH_PER_WORKER x workers`` files in flight)."""
    if not pool_worthwhile(cfg.workers, len(files)):
        for f in files:
            yield parse_file(f, cfg.chains, cfg.model, k=k)
        return
    window = max(2 * CHUNK_FILES, PREFETCH_PER_WORKER * cfg.workers)
    with start_pool(cfg.workers, None) as parsers:
        pool = parsers.executor
        pending: deque[Future[FileResult]] = deque()
        it = iter(files)
        for f in it:
            pending.append(pool.submit(parse_file, f, cfg.chains, cfg.model, k=k))
            if len(pending) >= window:
                break
        while pending:
            res = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(parse_file, nxt, cfg.chains, cfg.model, k=k))
            yield res


def _tokenize_in_worker(
    files: Sequence[str], chains: Sequence[str] | None, model: int | None
) -> tuple[list[dict[str, Any]], list[FailedInput]]:
    return tokenize_files(worker_tokenizer(), files, chains, model)


ChunkResult = tuple[list[dict[str, Any]], list[str], list[FailedInput]]


def _chunks(files: Sequence[str], cfg: TokenizeConfig) -> list[list[str]]:
    """``files`` cut into shards of ``cfg.files_per_shard``, each cut into chunks of :data:`CHUNK_FILES`."""
    out = []
    for s in range(0, len(files), cfg.files_per_shard):
        shard = files[s : s + cfg.files_per_shard]
        out += [list(shard[c : c + CHUNK_FILES]) for c in range(0, len(shard), CHUNK_FILES)]
    return out


def _worker_model(tok: Tokenizer, cfg: TokenizeConfig) -> str | None:
    """What worker processes load to encode on their own, or None when they cannot (a GPU encoder, which
    stays in this process, or a tokenizer that was not loaded from a registry name or folder)."""
    if tok.device.type != "cpu":
        return None
    name = cfg.model_name or tok.name
    from protok.models import registry

    known = name in getattr(registry, "MODEL_REGISTRY", {}) or Path(name).is_dir()
    return name if known else None


def _chunk_results(
    tok: Tokenizer, files: Sequence[str], cfg: TokenizeConfig, pool: WorkerPool | None = None
) -> Iterator[ChunkResult]:
    """``(records, sources, failed)`` for each chunk of :func:`_chunks`, in input order.

    * CPU, ``workers >= 1``: the worker processes *and* this one parse and encode whole chunks: chunks are
      queued for the pool once a worker has started, and whenever the next chunk in order is not ready this
      process does one that no worker has started (that chunk, the last queued one or the next unqueued
      one) instead of waiting. Every core does the same work, only token records travel between
      processes, and no single encoder process limits the run.
    * GPU (or a tokenizer without a loadable name): workers parse, this process encodes.
    * ``workers = 0`` or a small run: everything in this process.

    ``pool`` is an already started pool of encoding workers (the command line starts it early); it is
    used as given and left running.
    """
    chunks = _chunks(files, cfg)
    if pool is not None and pool.model is not None:
        yield from _run_chunks(tok, chunks, cfg, pool)
        return
    model_name = _worker_model(tok, cfg)
    if model_name is None or not pool_worthwhile(cfg.workers, len(files)):
        parsed = _parse_many(files, cfg, tok.k_neighbours)
        for chunk in chunks:
            records, failed = encode_group(tok, list(itertools.islice(parsed, len(chunk))))
            yield records, chunk, failed
        return
    with start_pool(cfg.workers, model_name) as own:
        yield from _run_chunks(tok, chunks, cfg, own)


def _run_chunks(
    tok: Tokenizer, chunks: list[list[str]], cfg: TokenizeConfig, pool: WorkerPool
) -> Iterator[ChunkResult]:
    """Share ``chunks`` between ``pool``'s encoding workers and this process (see :func:`_chunk_results`)."""
    executor = pool.executor
    window = PREFETCH_CHUNKS_PER_WORKER * max(1, len(pool.started))
    futures: dict[int, Future[tuple[list[dict[str, Any]], list[FailedInput]]]] = {}
    done: dict[int, tuple[list[dict[str, Any]], list[FailedInput]]] = {}
    ahead = 0  # chunks below this index are queued or done

    def run_here(j: int) -> None:
        done[j] = tokenize_files(tok, chunks[j], cfg.chains, cfg.model)

    try:
        for i, chunk in enumerate(chunks):
            while i not in done:
                # Workers take seconds to start (torch, the model): chunks go to the pool only once one
                # has answered, so no chunk waits on a starting worker while this process could do it.
                if pool.ready():
                    while ahead < len(chunks) and len(futures) < window:
                        futures[ahead] = executor.submit(
                            _tokenize_in_worker, chunks[ahead], cfg.chains, cfg.model
                        )
                        ahead += 1
                fut = futures.get(i)
                if fut is None:  # not queued (workers still starting): do it here
                    run_here(i)
                    ahead = max(ahead, i + 1)
                elif fut.done():
                    done[i] = futures.pop(i).result()
                elif fut.cancel():  # queued but not started: do it here
                    del futures[i]
                    run_here(i)
                else:  # a worker has it: meanwhile do a chunk no worker has started, else wait
                    spare = next(
                        (j for j in sorted(futures, reverse=True) if j > i and futures[j].cancel()), None
                    )
                    if spare is not None:
                        del futures[spare]
                    elif ahead < len(chunks):
                        spare, ahead = ahead, ahead + 1
                    if spare is None:
                        done[i] = futures.pop(i).result()
                    else:
                        run_here(spare)
            records, failed = done.pop(i)
            yield records, chunk, failed
    finally:
        for f in futures.values():  # a pool passed in outlives this run: drop what it still queues
            f.cancel()


def _encode_local(
    tok: Tokenizer, files: Sequence[str], cfg: TokenizeConfig, pool: WorkerPool | None = None
) -> Iterator[ChunkResult]:
    """``(records, sources, failed)`` per output shard of ``cfg.files_per_shard`` files."""
    records: list[dict[str, Any]] = []
    sources: list[str] = []
    failed: list[FailedInput] = []
    for recs, srcs, fails in _chunk_results(tok, files, cfg, pool):
        records += recs
        sources += srcs
        failed += fails
        if len(sources) >= cfg.files_per_shard:
            yield records, sources, failed
            records, sources, failed = [], [], []
    if sources:
        yield records, sources, failed


def run_tokenize(
    tok: Tokenizer | None,
    cfg: TokenizeConfig,
    stream: IO[str] | None = None,
    tokenizer_factory: Callable[[], Tokenizer] | None = None,
    pool: WorkerPool | None = None,
) -> RunSummary:
    """Tokenize ``cfg.inputs`` into ``cfg.output`` (sharded, resumable) or as FASTA text into ``stream``.

    ``pool``: encoding workers already started with :func:`protok.tokenizer.workers.start_pool` for the
    same model (local engine, CPU); the caller owns it. Without it the run starts its own when worthwhile.

    Record ids come from ``cfg.ids``, else :func:`protok.tokenizer.inputs.record_ids` of ``cfg.inputs``: unique
    within the run. With ``cfg.resume``, inputs that failed before are tried again.

    Returns
    -------
    RunSummary
        ``failed > 0`` means some inputs of the output still fail: they are listed in the errors file (or
        logged, for stream output).
    """
    t0 = time.perf_counter()
    if tok is None:
        if tokenizer_factory is None:
            raise ValueError("need a tokenizer or a tokenizer factory")
        tok = tokenizer_factory()
    summary = RunSummary(files=len(cfg.inputs))
    ids = cfg.ids if cfg.ids is not None else record_ids(cfg.inputs)
    store, todo = _open_output(cfg, tok, summary)
    if todo is not None:
        out = stream if stream is not None else sys.stdout
        with _progress(cfg, total=len(cfg.inputs), initial=summary.done_before) as bar:
            for records, sources, failed in _groups(tok, todo, cfg, pool):
                for r in records:
                    r["id"] = ids.get(r["source"], r["id"])
                _deliver(records, sources, failed, store, out, tok.vocab)
                _count(summary, records, sources, failed)
                bar.update(len(sources))
        if store is not None:
            store.finalize()
            _count_from_store(store, cfg, summary)
    summary.seconds = time.perf_counter() - t0
    return summary


def _open_output(
    cfg: TokenizeConfig, tok: Tokenizer, summary: RunSummary
) -> tuple[ShardStore | None, list[str] | None]:
    """The started (or resumed) output store, None for stream output, and the inputs still to do (None when
    ``--resume`` finds a finished output whose inputs all succeeded)."""
    if cfg.output is None:
        return None, list(cfg.inputs)
    store = ShardStore(Path(cfg.output), tok.vocab)
    summary.errors_path = store.errors_path
    if cfg.resume and not store.has_unfinished_run and store.output.exists():
        if not store.reopen(cfg.inputs):  # a finished output: its failed inputs are tried again
            log.info("%s is complete; nothing to resume", store.output)
            summary.done_before = len(cfg.inputs)
            summary.failures = list(store.failures)
            summary.failed = len(store.failures)
            return store, None
    else:
        store.start(cfg.resume)
    summary.done_before = len(store.done & set(cfg.inputs))
    return store, [f for f in cfg.inputs if f not in store.done]


def _groups(
    tok: Tokenizer, todo: list[str], cfg: TokenizeConfig, pool: WorkerPool | None
) -> Iterator[ChunkResult]:
    """``(records, sources, failed)`` per output shard, from the configured engine."""
    if cfg.engine == "ray":
        from protok.tokenizer.ray_engine import run_ray

        return run_ray(todo, cfg, tok)
    if cfg.engine == "local":
        return _encode_local(tok, todo, cfg, pool)
    raise ValueError(f"unknown engine {cfg.engine!r} (local or ray)")


def _deliver(
    records: list[dict[str, Any]],
    sources: list[str],
    failed: list[FailedInput],
    store: ShardStore | None,
    stream: IO[str],
    vocab: Vocabulary,
) -> None:
    """Commit one group to the store, or write it to ``stream`` as FASTA text and log its failures."""
    if store is not None:
        store.commit(records, sources, failed)
        return
    stream.write(fasta_text(records, vocab))
    stream.flush()
    for f in failed:
        log.warning("failed: %s: %s", f.source, f.reason)


def _count(
    summary: RunSummary, records: list[dict[str, Any]], sources: list[str], failed: list[FailedInput]
) -> None:
    summary.failed += len(failed)
    summary.ok += len(sources) - len(failed)
    summary.failures.extend(failed)
    summary.chains += len(records)
    summary.residues += sum(r["length"] for r in records)


def _count_from_store(store: ShardStore, cfg: TokenizeConfig, summary: RunSummary) -> None:
    """Outcome counts of an output: from its store, so they include earlier runs."""
    inputs = set(cfg.inputs)
    summary.failures = list(store.failures)
    summary.failed = len(store.failures)
    summary.ok = len(store.done & inputs) - sum(f.source in inputs for f in store.failures)


def _progress(cfg: TokenizeConfig, total: int, initial: int) -> Any:
    """A files/s progress bar on stderr (a no-op bar when ``cfg.progress`` is off)."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="file",
        desc="tokenize",
        file=sys.stderr,
        dynamic_ncols=True,
        disable=not cfg.progress,
    )
