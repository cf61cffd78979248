"""Run a suite: prepare data (cached), tokenize every chain once per tokenizer (cached), score every
perspective, write results.csv, report.md and plots."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from protok.bench.adapters import TokenizerAdapter
from protok.bench.cache import ArrayCache, default_cache_dir, hash_parts
from protok.bench.dataset import BenchDataset, prepare_dataset
from protok.bench.report import write_plots, write_report, write_results
from protok.bench.results import Result
from protok.bench.sources import SHIPPED_FLEX, THESEUS_EXAMPLES, default_data_dir, default_flex_dir, flex_files
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

__all__ = ["flex_note", "run_bench", "tokenize_dataset"]

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
    :func:`protok.bench.data.default_flex_dir`). ``progress`` receives one line per stage (data, each
    tokenizer, probes, report), first saying where the flexibility task's files come from.

    ``command`` (the command line that started the run, if any) is written into ``report.md`` and
    ``run.json`` with the total runtime, so a committed report says how to reproduce it.

    ``workers`` > 1 trains the probes of different (tokenizer, task) pairs in parallel processes (fork;
    each probe uses one thread), e.g. 2 on a 2-core machine. Forking a process whose OpenMP thread pool
    is running deadlocks the children (seen: a ``--workers 2`` run hung after tokenizing with 2 torch
    threads), so with ``workers`` > 1 this whole call runs torch single-threaded.

    Returns
    -------
    pandas.DataFrame
        The long-format results (also in ``results.csv``); ``task == "runtime"`` rows hold seconds spent.
    """
    say = progress or (lambda message: log.info("%s", message))
    if workers > 1:
        torch.set_num_threads(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = ArrayCache(cache_dir or default_cache_dir())
    t0 = time.perf_counter()
    flex_dir = Path(flex_dir) if flex_dir else default_flex_dir()
    say(flex_note(flex_dir, suite.n_flex_files))
    say(f"preparing the data of suite {suite.name!r} (cached after the first run)")
    ds = prepare_dataset(suite, data_dir=data_dir or default_data_dir(), cache=cache, flex_dir=flex_dir)
    results: list[Result] = [Result("-", "runtime", "prepare", "seconds", time.perf_counter() - t0)]
    say(
        f"data ready: {len(ds.items)} chains ({time.perf_counter() - t0:.0f} s); TM-scores of the sensitivity pairs"
    )
    pairs = sample_pairs(ds, suite.n_pairs, seed=suite.seed)
    tm_arr, _ = cache.get_or_compute(
        "tm", hash_parts(ds.key, pairs), lambda: ({"tm": tm_scores(ds, pairs)}, {"pairs": pairs})
    )
    tm = tm_arr["tm"]
    robust_ids = robustness_ids(ds, suite)
    test_ids = sorted(ds.splits["scop"].tests.get("fold_test", ()))
    recon_ids = test_ids[: suite.n_recon]
    usage: dict[str, np.ndarray] = {}
    cos: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sens: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    probe_inputs: dict[str, tuple[dict[str, np.ndarray], np.ndarray]] = {}
    for i, ad in enumerate(adapters, 1):
        name = ad.name
        say(f"tokenizer {i}/{len(adapters)}: {name}: tokenizing and scoring")
        timings: dict[str, float] = {}
        t = time.perf_counter()
        tokens = tokenize_dataset(ad, ds, cache)
        timings["tokenize"] = time.perf_counter() - t
        codes = np.asarray(ad.code_vectors(), np.float32)
        k = codes.shape[0]
        eff_ids = [c for c in sorted(set(ds.scop) | set(ds.binding)) if c in tokens]
        lists = [tokens[c] for c in eff_ids]
        flat = np.concatenate(lists) if lists else np.zeros(0, np.int64)
        usage[name] = np.bincount(flat[flat >= 0], minlength=k)[:k].astype(np.float64)
        results += efficiency(lists, codes, tokenizer=name)
        results += distinctiveness(codes, usage[name], tokenizer=name)
        cos[name] = cosine_pairs(codes, usage[name])
        if all(a in tokens and b in tokens for a, b in pairs) and pairs:
            t = time.perf_counter()
            rows, scores = sensitivity(tokens, codes, pairs, tm, tokenizer=name)
            results += rows
            sens[name] = (scores, tm)
            timings["sensitivity"] = time.perf_counter() - t
        if ad.applies_to_perturbed:
            t = time.perf_counter()
            items = [ds.items[c] for c in robust_ids]
            key = hash_parts(ad.fingerprint(), ds.key, robust_ids, suite.noise_levels)
            pert, _ = cache.get_or_compute(
                "robust",
                key,
                functools.partial(_robust_compute, ad, items, suite.noise_levels),
            )
            ref = np.concatenate([tokens[c] for c in robust_ids])
            results += robustness(ref, pert, tokenizer=name, n_chains=len(items))
            timings["robustness"] = time.perf_counter() - t
        if ad.can_decode and recon_ids:
            t = time.perf_counter()
            results += reconstruction(ad, [ds.items[c] for c in recon_ids], tokens, tokenizer=name)
            timings["reconstruction"] = time.perf_counter() - t
        probe_inputs[name] = (tokens, np.asarray(ad.probe_vectors(), np.float32))
        results += [Result(name, "runtime", k_, "seconds", v) for k_, v in timings.items()]
        log.info(
            "%s tokenized and scored (probes next): %s", name, {k_: round(v, 1) for k_, v in timings.items()}
        )
    t = time.perf_counter()
    say(
        f"training probes: {len(probe_inputs)} tokenizers x {len(EFFECTIVENESS_TASKS)} tasks x "
        f"{suite.probe.seeds} seeds on {workers} worker{'s' if workers > 1 else ''}"
    )
    results += _run_probes(ds, suite, probe_inputs, workers)
    results.append(Result("-", "runtime", "effectiveness", "seconds", time.perf_counter() - t))
    results.append(Result("-", "runtime", "total", "seconds", time.perf_counter() - t0))
    df = write_results(results, out_dir / "results.csv")
    notes = [
        "",
        f"Suite `{suite.name}`: {len(ds.scop)} SCOP chains (split {_sizes(ds, 'scop')}), "
        f"{len(ds.binding)} binding chains (split {_sizes(ds, 'binding')}), "
        f"{len(ds.ids('flex'))} full-atom B-factor chains (split {_sizes(ds, 'flex')}); "
        f"{len(pairs)} sensitivity pairs, {len(robust_ids)} robustness chains, {len(recon_ids)} reconstruction chains; "
        f"probe {suite.probe.steps} steps, lr sweep {list(suite.probe.lrs)}, {suite.probe.seeds} seeds.",
        f"Left out while preparing: {ds.skipped}.",
        f"Total runtime {time.perf_counter() - t0:.0f} s"
        f" ({workers} probe worker{'s' if workers > 1 else ''}, {os.cpu_count()} CPUs).",
    ]
    if command:
        notes.append(f"Command: `{command}`")
    write_report(
        df[df.task != "runtime"],
        out_dir / "report.md",
        header=f"# protok bench — suite `{suite.name}`\n",
        notes=notes,
    )
    say(f"writing {out_dir / 'report.md'} and plots")
    write_plots(out_dir, df, usage, cos, sens)
    (out_dir / "run.json").write_text(
        json.dumps(
            {
                "suite": asdict(suite),
                "tokenizers": [{"name": a.name, "fingerprint": a.fingerprint()} for a in adapters],
                "dataset_key": ds.key,
                "command": command,
                "workers": workers,
                "runtime_s": round(time.perf_counter() - t0, 1),
            },
            indent=2,
            default=str,
        )
    )
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


def _robust_compute(adapter, items, noise_levels) -> tuple[dict[str, np.ndarray], dict]:
    return robustness_tokens(adapter, items, noise_levels), {}


_PROBE_JOBS: list = []


def _probe_job(i: int) -> list[Result]:
    ds, suite, name, tokens, vectors, task = _PROBE_JOBS[i]
    return effectiveness(
        ds, tokens, vectors, suite.probe, tokenizer=name, ligands=suite.ligands, tasks=(task,)
    )


def _run_probes(
    ds: BenchDataset,
    suite: SuiteConfig,
    inputs: dict[str, tuple[dict[str, np.ndarray], np.ndarray]],
    workers: int,
) -> list[Result]:
    """All (tokenizer, task) probes, in order; in ``workers`` forked processes when > 1."""
    global _PROBE_JOBS
    _PROBE_JOBS = [
        (ds, suite, n, tok, vec, task) for n, (tok, vec) in inputs.items() for task in EFFECTIVENESS_TASKS
    ]
    try:
        if workers <= 1 or len(_PROBE_JOBS) <= 1:
            chunks = [_probe_job(i) for i in range(len(_PROBE_JOBS))]
        else:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(workers) as pool:
                chunks = pool.map(_probe_job, range(len(_PROBE_JOBS)), chunksize=1)
    finally:
        _PROBE_JOBS = []
    return [r for c in chunks for r in c]


def _sizes(ds: BenchDataset, family: str) -> str:
    s = ds.splits.get(family)
    if s is None:
        return "none"
    return "/".join(f"{k} {len(v)}" for k, v in [("train", s.train), ("valid", s.valid), *s.tests.items()])
