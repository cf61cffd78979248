"""Worker processes of ``protok tokenize``: a process pool whose workers load the tokenizer once.

This module is light at import (no torch), so the command line can start the pool *before* it imports
torch and loads the model itself: workers then start in parallel with the main process instead of after
it (each needs about two seconds to import torch and load the model).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protok._lazy import import_biotite_without_matplotlib
from protok._threads import torch_threads

if TYPE_CHECKING:  # pragma: no cover
    from protok.tokenizer.api import Tokenizer

__all__ = [
    "DEFAULT_MODEL",
    "MIN_FILES_FOR_POOL",
    "WorkerPool",
    "default_workers",
    "encoder_threads",
    "local_encoders",
    "local_workers",
    "pool_worthwhile",
    "start_pool",
    "worker_tokenizer",
]

#: Below this many files a run stays in-process: a worker needs about two seconds to start (import torch,
#: load the model), and with 2 cores the pool pays off from about this many files
#: (``benchmarks/pool_threshold.py``).
MIN_FILES_FOR_POOL: int = 128
#: ``model`` value of :func:`start_pool` for the shipped default model.
DEFAULT_MODEL: str = ""

_TOKENIZER: Tokenizer | None = None


@dataclass
class WorkerPool:
    """A spawned process pool and the model its workers encode with (``None``: they only parse)."""

    executor: ProcessPoolExecutor
    model: str | None
    started: list[Future[bool]] = field(default_factory=list)

    def ready(self) -> bool:
        """True once at least one worker has finished starting (imports and model loaded)."""
        return any(f.done() for f in self.started)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def start_pool(workers: int, model: str | None) -> WorkerPool:
    """Start ``workers`` processes now (``spawn``: forking a process that already runs torch / OpenMP
    threads can deadlock the children).

    Parameters
    ----------
    workers : int
        Number of processes (>= 1).
    model : str or None
        Model name or folder each worker loads to parse *and* encode (:data:`DEFAULT_MODEL` for the shipped
        default); ``None`` for workers that only parse.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    ctx = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init, initargs=(model,))
    pool = WorkerPool(executor, model)
    pool.started = [executor.submit(_ready) for _ in range(workers)]  # spawns the processes now
    return pool


def pool_worthwhile(workers: int, n_files: int) -> bool:
    """Whether a run of ``n_files`` files with ``workers`` worker processes should start a pool at all."""
    return workers > 0 and n_files >= MIN_FILES_FOR_POOL


def default_workers() -> int:
    """Worker processes by default: one per core besides the main process (which works too), at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def encoder_threads(workers: int) -> int:
    """Torch threads for the main process next to ``workers`` worker processes: the cores they leave free
    (at least one), so the machine is not oversubscribed."""
    return max(1, (os.cpu_count() or 1) - max(0, workers))


@contextlib.contextmanager
def local_workers(
    workers: int, model: str | None, *, start: bool, threads: int | None
) -> Iterator[WorkerPool | None]:
    """This process's side of a local batch job: a pool of ``workers`` processes that load ``model`` (None:
    the shipped default), started now when ``start`` and shut down on exit, and ``threads`` torch threads
    for this process (None: unchanged), restored on exit. Yields the pool, or None."""
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(start_pool(workers, model or DEFAULT_MODEL)) if start else None
        stack.enter_context(torch_threads(threads))
        yield pool


def local_encoders(
    workers: int, n_files: int, model: str | None, *, engine: str = "local", device: str = "cpu"
) -> contextlib.AbstractContextManager[WorkerPool | None]:
    """Set this process up for a tokenize run of ``n_files`` files with ``workers`` worker processes.

    With the local engine on a CPU, the encoding workers start now when the run is large enough
    (:func:`pool_worthwhile`) — enter this before importing torch, so their start-up overlaps this process's
    own — and torch gets the cores the workers leave free (:func:`encoder_threads`). See
    :func:`local_workers`; the pool goes to :func:`protok.tokenizer.runner.run_tokenize`.
    """
    local_cpu = engine == "local" and device == "cpu" and workers > 0
    start = local_cpu and pool_worthwhile(workers, n_files)
    return local_workers(workers, model, start=start, threads=encoder_threads(workers) if local_cpu else None)


def worker_tokenizer() -> Tokenizer:
    """The tokenizer this worker loaded at start."""
    if _TOKENIZER is None:  # pragma: no cover - only called in pools started with a model
        raise RuntimeError("this worker was started without a model")
    return _TOKENIZER


def _init(model: str | None) -> None:
    import_biotite_without_matplotlib()
    import torch

    global _TOKENIZER
    torch.set_num_threads(1)
    # A worker ends after multiprocessing has flushed its result queue; the interpreter's teardown after
    # that (0.4-0.9 s with torch loaded) would only delay the pool's shutdown, which waits for it.
    atexit.register(os._exit, 0)
    if model is not None:
        from protok.tokenizer.api import load

        _TOKENIZER = load(model or None)


def _ready() -> bool:
    return True
