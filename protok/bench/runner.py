"""Run a suite: prepare data (cached), tokenize every chain once per tokenizer (cached), score every
perspective, write results.csv, report.md and plots."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from protok._threads import torch_threads
from protok.bench.adapters import TokenizerAdapter
from protok.bench.cache import ArrayCache, default_cache_dir, hash_parts
from protok.bench.dataset import BenchDataset, prepare_dataset
from protok.bench.report import write_plots, write_report, write_results
from protok.bench.results import Result
from protok.bench.sources import (
    SHIPPED_FLEX,
    THESEUS_EXAMPLES,
    default_data_dir,
    default_flex_dir,
    flex_files,
)
from protok.bench.suites import SuiteConfig
from protok.bench.tasks import (
    EFFECTIVENESS_TASKS,
    distinctiveness,
    effectiveness,
    efficiency,
    reconstruction,
    robustness,
    sensitivity,
)
from protok.bench.tasks.distinctiveness import cosine_pairs
from protok.bench.tasks.robustness import robustness_tokens
from protok.bench.tasks.sensitivity import sample_pairs, tm_scores
from protok.errors import TokenizerNotApplicableError

__all__ = ["flex_note", "reconstruction_ids", "robustness_ids", "run_bench", "tokenize_dataset"]

log = logging.getLogger(__name__)


def tokenize_dataset(
    adapter: TokenizerAdapter, ds: BenchDataset, cache: ArrayCache, *, batch_size: int = 16
) -> dict[str, np.ndarray]:
    """Tokens of every chain of ``ds`` (computed once, cached by adapter fingerprint and data-set key).

    Adapters with an ``encode_batch(items) -> list of ndarray`` method are called ``batch_size`` chains at a
    time.

    Chains the adapter cannot encode (:class:`TokenizerNotApplicableError`) are absent from the result.
    """
    ids = sorted(ds.items)

    def one(cid: str) -> np.ndarray | None:
        try:
            t = np.asarray(adapter.encode(ds.items[cid]), np.int64)
        except TokenizerNotApplicableError as exc:
            log.debug("%s", exc)
            return None
        if t.shape != (len(ds.items[cid]),):
            raise TokenizerNotApplicableError(f"{cid}: {adapter.name} returned shape {t.shape}")
        return t

    def compute():
        got: list[np.ndarray | None] = []
        batched = getattr(adapter, "encode_batch", None)
        for s in range(0, len(ids), batch_size):
            chunk = ids[s : s + batch_size]
            if batched is not None:
                try:
                    got.extend(batched([ds.items[c] for c in chunk]))
                    continue
                except TokenizerNotApplicableError:
                    pass  # fall back to one chain at a time to find the culprit
            got.extend(one(c) for c in chunk)
        toks = [t if t is not None else np.full(len(ds.items[c]), -1, np.int64) for c, t in zip(ids, got)]
        return {"tokens": np.concatenate(toks), "ok": np.array([t is not None for t in got])}, {"ids": ids}

    arrays, _ = cache.get_or_compute("tokens", hash_parts(adapter.fingerprint(), ds.key), compute)
    offs = np.concatenate([[0], np.cumsum([len(ds.items[c]) for c in ids])])
    return {c: arrays["tokens"][offs[j] : offs[j + 1]] for j, c in enumerate(ids) if arrays["ok"][j]}


def robustness_ids(ds: BenchDataset, suite: SuiteConfig) -> list[str]:
    """The SCOP chains the robustness task perturbs: ``suite.n_robust`` of them, drawn with ``suite.seed``."""
    rng = np.random.default_rng(suite.seed)
    scop_ids = sorted(ds.scop)
    return sorted(rng.choice(scop_ids, min(suite.n_robust, len(scop_ids)), replace=False).tolist())


def reconstruction_ids(ds: BenchDataset, suite: SuiteConfig) -> list[str]:
    """The chains the reconstruction task decodes: the first ``suite.n_recon`` fold-test chains by id."""
    return sorted(ds.splits["scop"].tests.get("fold_test", ()))[: suite.n_recon]


@dataclass
class _Plan:
    """What every tokenizer is scored on: sensitivity pairs and their TM-scores, robustness and
    reconstruction chains."""

    pairs: list[tuple[str, str]]
    tm: np.ndarray
    robust_ids: list[str]
    recon_ids: list[str]


@dataclass
class _Scored:
    """One tokenizer's scores besides the probes, what the plots need, and the probes' inputs."""

    results: list[Result]
    usage: np.ndarray
    cosines: tuple[np.ndarray, np.ndarray]
    sensitivity: tuple[np.ndarray, np.ndarray] | None
    probe_input: tuple[dict[str, np.ndarray], np.ndarray]


def run_bench(
    adapters: Sequence[TokenizerAdapter],
    suite: SuiteConfig,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    flex_dir: str | Path | None = None,
    workers: int = 1,
    command: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Score ``adapters`` on ``suite`` and write ``out_dir/results.csv``, ``report.md`` and PNG plots.

    ``flex_dir`` holds the full-atom files of the flexibility task (default:
    :func:`protok.bench.sources.default_flex_dir`). ``progress`` receives one line per stage (data, each
    tokenizer, probes, report), first saying where the flexibility task's files come from.

    ``command`` (the command line that started the run, if any) is written into ``report.md`` and
    ``run.json`` with the total runtime, so a committed report says how to reproduce it.

    ``workers`` > 1 trains the probes of different (tokenizer, task) pairs in parallel processes (fork;
    each probe uses one thread), e.g. 2 on a 2-core machine. Forking a process whose OpenMP thread pool
    is running deadlocks the children (seen: a ``--workers 2`` run hung after tokenizing with 2 torch
    threads), so with ``workers`` > 1 torch runs single-threaded during this call (the caller's thread
    count is restored afterwards).

    Returns
    -------
    pandas.DataFrame
        The long-format results (also in ``results.csv``); ``task == "runtime"`` rows hold seconds spent.
    """
    say = progress or (lambda message: log.info("%s", message))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = ArrayCache(cache_dir or default_cache_dir())
    t0 = time.perf_counter()
    flex_dir = Path(flex_dir) if flex_dir else default_flex_dir()
    say(flex_note(flex_dir, suite.n_flex_files))
    with torch_threads(1 if workers > 1 else None):
        say(f"preparing the data of suite {suite.name!r} (cached after the first run)")
        ds = prepare_dataset(suite, data_dir=data_dir or default_data_dir(), cache=cache, flex_dir=flex_dir)
        results = [Result("-", "runtime", "prepare", "seconds", time.perf_counter() - t0)]
        say(
            f"data ready: {len(ds.items)} chains ({time.perf_counter() - t0:.0f} s); TM-scores of the sensitivity pairs"
        )
        plan = _plan(ds, suite, cache)
        scored: dict[str, _Scored] = {}
        for i, ad in enumerate(adapters, 1):
            say(f"tokenizer {i}/{len(adapters)}: {ad.name}: tokenizing and scoring")
            scored[ad.name] = _score_tokenizer(ad, ds, suite, plan, cache)
        t = time.perf_counter()
        say(
            f"training probes: {len(scored)} tokenizers x {len(EFFECTIVENESS_TASKS)} tasks x "
            f"{suite.probe.seeds} seeds on {workers} worker{'s' if workers > 1 else ''}"
        )
        probe_inputs = {name: sc.probe_input for name, sc in scored.items()}
        probe_results = _run_probes(ds, suite, probe_inputs, workers)
    results += [r for sc in scored.values() for r in sc.results] + probe_results
    results.append(Result("-", "runtime", "effectiveness", "seconds", time.perf_counter() - t))
    results.append(Result("-", "runtime", "total", "seconds", time.perf_counter() - t0))
    df = write_results(results, out_dir / "results.csv")
    notes = _report_notes(ds, suite, plan, workers, command, time.perf_counter() - t0)
    header = f"# protok bench — suite `{suite.name}`\n"
    write_report(df[df.task != "runtime"], out_dir / "report.md", header=header, notes=notes)
    say(f"writing {out_dir / 'report.md'} and plots")
    usage = {name: sc.usage for name, sc in scored.items()}
    cosines = {name: sc.cosines for name, sc in scored.items()}
    sens = {name: sc.sensitivity for name, sc in scored.items() if sc.sensitivity is not None}
    write_plots(out_dir, df, usage, cosines, sens)
    _write_run_json(out_dir / "run.json", suite, adapters, ds, command, workers, time.perf_counter() - t0)
    return df


def flex_note(flex_dir: Path, n_files: int) -> str:
    """One line on where the flexibility task's full-atom files come from, and how to get more or any."""
    if n_files <= 0:
        return "flexibility task: not in this suite"
    have = len(flex_files(flex_dir, n_files))
    more = f"apt-get install theseus-examples ({THESEUS_EXAMPLES}) or pass --flex-dir"
    if have == 0:
        return f"flexibility task skipped: no full-atom PDB files under {flex_dir}; to run it, {more}"
    where = "shipped with protok" if flex_dir.resolve() == SHIPPED_FLEX else f"from {flex_dir}"
    if have < n_files:
        return f"flexibility task: {have} full-atom files {where} (the suite takes up to {n_files}; for more, {more})"
    return f"flexibility task: {have} full-atom files {where}"


def _plan(ds: BenchDataset, suite: SuiteConfig, cache: ArrayCache) -> _Plan:
    pairs = sample_pairs(ds, suite.n_pairs, seed=suite.seed)
    tm_arr, _ = cache.get_or_compute(
        "tm", hash_parts(ds.key, pairs), lambda: ({"tm": tm_scores(ds, pairs)}, {"pairs": pairs})
    )
    return _Plan(pairs, tm_arr["tm"], robustness_ids(ds, suite), reconstruction_ids(ds, suite))


def _score_tokenizer(
    ad: TokenizerAdapter, ds: BenchDataset, suite: SuiteConfig, plan: _Plan, cache: ArrayCache
) -> _Scored:
    """Tokenize the data set once and score every perspective but the probes."""
    name = ad.name
    timings: dict[str, float] = {}
    t = time.perf_counter()
    tokens = tokenize_dataset(ad, ds, cache)
    timings["tokenize"] = time.perf_counter() - t
    codes = np.asarray(ad.code_vectors(), np.float32)
    codebook_size = codes.shape[0]
    eff_ids = [c for c in sorted(set(ds.scop) | set(ds.binding)) if c in tokens]
    lists = [tokens[c] for c in eff_ids]
    flat = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    usage = np.bincount(flat[flat >= 0], minlength=codebook_size)[:codebook_size].astype(np.float64)
    results = efficiency(lists, codes, tokenizer=name) + distinctiveness(codes, usage, tokenizer=name)
    sens = None
    if plan.pairs and all(a in tokens and b in tokens for a, b in plan.pairs):
        t = time.perf_counter()
        rows, scores = sensitivity(tokens, codes, plan.pairs, plan.tm, tokenizer=name)
        results += rows
        sens = (scores, plan.tm)
        timings["sensitivity"] = time.perf_counter() - t
    if ad.applies_to_perturbed:
        t = time.perf_counter()
        results += _robustness(ad, ds, suite, plan.robust_ids, tokens, cache)
        timings["robustness"] = time.perf_counter() - t
    if ad.can_decode and plan.recon_ids:
        t = time.perf_counter()
        results += reconstruction(ad, [ds.items[c] for c in plan.recon_ids], tokens, tokenizer=name)
        timings["reconstruction"] = time.perf_counter() - t
    results += [Result(name, "runtime", what, "seconds", v) for what, v in timings.items()]
    log.info("%s tokenized and scored (probes next): %s", name, {k: round(v, 1) for k, v in timings.items()})
    probe_input = (tokens, np.asarray(ad.probe_vectors(), np.float32))
    return _Scored(results, usage, cosine_pairs(codes, usage), sens, probe_input)


def _robustness(
    ad: TokenizerAdapter,
    ds: BenchDataset,
    suite: SuiteConfig,
    ids: list[str],
    tokens: dict[str, np.ndarray],
    cache: ArrayCache,
) -> list[Result]:
    items = [ds.items[c] for c in ids]
    key = hash_parts(ad.fingerprint(), ds.key, ids, suite.noise_levels)
    pert, _ = cache.get_or_compute(
        "robust", key, lambda: (robustness_tokens(ad, items, suite.noise_levels), {})
    )
    ref = np.concatenate([tokens[c] for c in ids])
    return robustness(ref, pert, tokenizer=ad.name, n_chains=len(items))


def _report_notes(
    ds: BenchDataset, suite: SuiteConfig, plan: _Plan, workers: int, command: str | None, seconds: float
) -> list[str]:
    notes = [
        "",
        f"Suite `{suite.name}`: {len(ds.scop)} SCOP chains (split {_sizes(ds, 'scop')}), "
        f"{len(ds.binding)} binding chains (split {_sizes(ds, 'binding')}), "
        f"{len(ds.ids('flex'))} full-atom B-factor chains (split {_sizes(ds, 'flex')}); "
        f"{len(plan.pairs)} sensitivity pairs, {len(plan.robust_ids)} robustness chains, "
        f"{len(plan.recon_ids)} reconstruction chains; "
        f"probe {suite.probe.steps} steps, lr sweep {list(suite.probe.lrs)}, {suite.probe.seeds} seeds.",
        f"Left out while preparing: {ds.skipped}.",
        f"Total runtime {seconds:.0f} s ({workers} probe worker{'s' if workers > 1 else ''}, "
        f"{os.cpu_count()} CPUs).",
    ]
    if command:
        notes.append(f"Command: `{command}`")
    return notes


def _write_run_json(
    path: Path,
    suite: SuiteConfig,
    adapters: Sequence[TokenizerAdapter],
    ds: BenchDataset,
    command: str | None,
    workers: int,
    seconds: float,
) -> None:
    run = {
        "suite": asdict(suite),
        "tokenizers": [{"name": a.name, "fingerprint": a.fingerprint()} for a in adapters],
        "dataset_key": ds.key,
        "command": command,
        "workers": workers,
        "runtime_s": round(seconds, 1),
    }
    path.write_text(json.dumps(run, indent=2, default=str))


#: One probe job: (data set, suite, tokenizer name, its tokens, its probe vectors, task name).
ProbeJob = tuple[BenchDataset, SuiteConfig, str, dict[str, np.ndarray], np.ndarray, str]

#: The jobs of the pool this worker process belongs to (set once per worker by :func:`_receive_jobs`).
_worker_jobs: list[ProbeJob] = []


def _receive_jobs(jobs: list[ProbeJob]) -> None:
    """Pool initializer: keep the jobs handed to this worker (inherited through the fork, not pickled)."""
    _worker_jobs[:] = jobs


def _run_job(job: ProbeJob) -> list[Result]:
    ds, suite, name, tokens, vectors, task = job
    return effectiveness(
        ds, tokens, vectors, suite.probe, tokenizer=name, ligands=suite.ligands, tasks=(task,)
    )


def _run_worker_job(i: int) -> list[Result]:
    return _run_job(_worker_jobs[i])


def _run_probes(
    ds: BenchDataset,
    suite: SuiteConfig,
    inputs: dict[str, tuple[dict[str, np.ndarray], np.ndarray]],
    workers: int,
) -> list[Result]:
    """All (tokenizer, task) probes, in order; in ``workers`` forked processes when > 1.

    The jobs go to the pool's processes as initializer arguments: with ``fork`` those are inherited, not
    pickled, so the data set is not copied once per job; only job numbers and results travel.
    """
    jobs: list[ProbeJob] = [
        (ds, suite, n, tok, vec, task) for n, (tok, vec) in inputs.items() for task in EFFECTIVENESS_TASKS
    ]
    if workers <= 1 or len(jobs) <= 1:
        chunks = [_run_job(job) for job in jobs]
    else:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers, initializer=_receive_jobs, initargs=(jobs,)) as pool:
            chunks = pool.map(_run_worker_job, range(len(jobs)), chunksize=1)
    return [r for c in chunks for r in c]


def _sizes(ds: BenchDataset, family: str) -> str:
    s = ds.splits.get(family)
    if s is None:
        return "none"
    return "/".join(f"{k} {len(v)}" for k, v in [("train", s.train), ("valid", s.valid), *s.tests.items()])
