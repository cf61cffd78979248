"""Effectiveness: supervised probes on frozen token code vectors (StructTokenBench protocol).

Tasks (task name -> probe kind, metric):

* ``binding`` (binary, AUROC per ligand group and pooled over all labelled residue-ligand pairs) — one
  probe with one output per ligand group, trained on the ligands each chain is labelled for.
* ``ss8`` / ``ss3`` (multiclass, macro-F1) — one 8-state probe; 3-state predictions sum its probabilities
  over H={H,G,I}, E={E,B}, C={T,S,C}.
* ``rsa`` / ``depth`` (regression, Spearman pooled over residues) — one probe with two standardised outputs;
  RSA = SASA / theoretical max ASA (Tien et al. 2013).
* ``fold`` (per-protein classification, macro-F1) — SCOP2 folds with enough training chains.
* ``flexibility`` (regression, Spearman) — per-chain z-scored CA B-factors of full-atom crystal structures.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from protok.bench.dataset import BenchDataset
from protok.bench.probe import ProbeConfig, ProbeData, predict, train_probe
from protok.bench.results import Result
from protok.bench.scores import auroc, macro_f1, spearman

__all__ = [
    "EFFECTIVENESS_TASKS",
    "MAX_ASA",
    "PROBE_TASKS",
    "SS3_OF_SS8",
    "SS8_STATES",
    "build_probe_task",
    "effectiveness",
    "probe_task",
]

log = logging.getLogger(__name__)

#: Theoretical maximum ASA per residue type (Å²), Tien et al. 2013, PLoS ONE 8:e80635.
MAX_ASA: dict[str, float] = {
    "A": 129.0, "R": 274.0, "N": 195.0, "D": 193.0, "C": 167.0, "E": 223.0, "Q": 225.0, "G": 104.0,
    "H": 224.0, "I": 197.0, "L": 201.0, "K": 236.0, "M": 224.0, "F": 240.0, "P": 159.0, "S": 155.0,
    "T": 172.0, "W": 285.0, "Y": 263.0, "V": 174.0,
}  # fmt: skip

#: DSSP's 8 states in the order of the SS probe's classes.
SS8_STATES = "HGIEBTSC"
#: SS3 class of each SS8 class: H G I -> helix (0), E B -> strand (1), T S C -> coil (2).
SS3_OF_SS8 = np.array([0, 0, 0, 1, 1, 2, 2, 2])


#: Probe outputs and the data they were computed on -> named scores.
Scorer = Callable[[list[np.ndarray], ProbeData], dict[str, float]]
#: Probe outputs and data -> one validation score (higher is better).
Selector = Callable[[list[np.ndarray], ProbeData], float]


@dataclass
class ProbeTask:
    """Everything one probe needs: kind, output size, split parts, validation score and test scorer."""

    name: str
    kind: str
    out_dim: int
    parts: dict[str, ProbeData]  # train, valid, <test names>
    select: Selector
    scores: Scorer


def _metric(scores: Scorer, name: str) -> Selector:
    """The validation score: one metric of ``scores``."""
    return lambda out, data: scores(out, data)[name]


def _rsa(seq: str, sasa: np.ndarray) -> np.ndarray:
    mx = np.array([MAX_ASA.get(a, np.nan) for a in seq], np.float32)
    return sasa / mx


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _parts(
    ds: BenchDataset,
    family: str,
    tokens: Mapping[str, np.ndarray],
    target: Callable[[str], Any],
) -> dict[str, ProbeData]:
    """Tokens and targets of the chains of each part of split ``family`` (chains without a target left out)."""
    split = ds.splits[family]
    out = {}
    for part, ids in [("train", split.train), ("valid", split.valid), *split.tests.items()]:
        toks, tgts = [], []
        for cid in ids:
            y = target(cid)
            if y is None:
                continue
            toks.append(tokens[cid])
            tgts.append(y)
        out[part] = ProbeData(toks, tgts)
    return out


#: (data set, tokens, ligand groups) -> the task, or None when the data set has no data for it.
TaskBuilder = Callable[[BenchDataset, Mapping[str, np.ndarray], tuple[str, ...]], ProbeTask | None]

#: Task name -> builder of its :class:`ProbeTask` (None when the data set has no data for it).
PROBE_TASKS: dict[str, TaskBuilder] = {}


def probe_task(name: str) -> Callable[[TaskBuilder], TaskBuilder]:
    """Register a probe task builder under ``name`` (decorator)."""

    def register(builder: TaskBuilder) -> TaskBuilder:
        PROBE_TASKS[name] = builder
        return builder

    return register


def build_probe_task(
    name: str, ds: BenchDataset, tokens: Mapping[str, np.ndarray], ligands: tuple[str, ...]
) -> ProbeTask | None:
    """The :class:`ProbeTask` for ``name`` on ``ds`` (None if the data set has no data for it)."""
    builder = PROBE_TASKS.get(name)
    if builder is None:
        raise ValueError(f"unknown effectiveness task {name!r}: registered {sorted(PROBE_TASKS)}")
    return builder(ds, tokens, ligands)


def _binding_scores(out: list[np.ndarray], data: ProbeData, ligands: tuple[str, ...]) -> dict[str, float]:
    y = np.concatenate(data.targets)
    p = np.concatenate(out)
    res = {}
    for g, lig in enumerate(ligands):
        known = y[:, g] >= 0
        res[f"auroc_{lig}"] = auroc(y[known, g], p[known, g]) if known.any() else float("nan")
    known_all = y >= 0
    res["auroc_pooled"] = auroc(y[known_all], _sigmoid(p)[known_all])
    return res


@probe_task("binding")
def _binding_task(
    ds: BenchDataset, tokens: Mapping[str, np.ndarray], ligands: tuple[str, ...]
) -> ProbeTask | None:
    if "binding" not in ds.splits:
        return None
    parts = _parts(ds, "binding", tokens, lambda c: ds.binding.get(c))
    scores = functools.partial(_binding_scores, ligands=ligands)
    return ProbeTask("binding", "binary", len(ligands), parts, _metric(scores, "auroc_pooled"), scores)


def _ss_scores(out: list[np.ndarray], data: ProbeData) -> dict[str, float]:
    y = np.concatenate(data.targets)
    p = np.concatenate(out)
    ok = y >= 0
    y, p = y[ok], p[ok]
    p3 = np.stack([_softmax(p)[:, SS3_OF_SS8 == j].sum(1) for j in range(3)], 1)
    return {
        "ss8_macro_f1": macro_f1(y, p.argmax(1), 8),
        "ss3_macro_f1": macro_f1(SS3_OF_SS8[y], p3.argmax(1), 3),
    }


@probe_task("ss")
def _ss_task(ds: BenchDataset, tokens: Mapping[str, np.ndarray], ligands: tuple[str, ...]) -> ProbeTask:
    lut = {s: i for i, s in enumerate(SS8_STATES)}

    def target(c: str) -> np.ndarray | None:
        d = ds.items[c].annotations.get("dssp")
        return None if d is None else np.array([lut.get(s, -1) for s in d], np.int64)

    parts = _parts(ds, "scop", tokens, target)
    return ProbeTask("ss", "multiclass", 8, parts, _metric(_ss_scores, "ss8_macro_f1"), _ss_scores)


def _rsa_depth_scores(out: list[np.ndarray], data: ProbeData) -> dict[str, float]:
    y = np.concatenate(data.targets)
    p = np.concatenate(out)
    res = {}
    for j, nm in enumerate(("rsa_spearman", "depth_spearman")):
        ok = ~np.isnan(y[:, j])
        res[nm] = spearman(y[ok, j], p[ok, j])
    return res


def _mean_rsa_depth(out: list[np.ndarray], data: ProbeData) -> float:
    return float(np.nanmean(list(_rsa_depth_scores(out, data).values())))


@probe_task("rsa_depth")
def _rsa_depth_task(
    ds: BenchDataset, tokens: Mapping[str, np.ndarray], ligands: tuple[str, ...]
) -> ProbeTask:
    def raw(c: str) -> np.ndarray | None:
        a = ds.items[c].annotations
        if "sasa" not in a or "depth" not in a:
            return None
        return np.stack([_rsa(ds.items[c].chain.sequence, a["sasa"]), a["depth"]], 1).astype(np.float32)

    # standardised with training statistics
    train_vals = [v for v in (raw(c) for c in ds.splits["scop"].train) if v is not None]
    allv = np.concatenate(train_vals)
    mu, sd = np.nanmean(allv, 0), np.nanstd(allv, 0) + 1e-6

    def target(c: str) -> np.ndarray | None:
        v = raw(c)
        return None if v is None else (v - mu) / sd

    parts = _parts(ds, "scop", tokens, target)
    return ProbeTask("rsa_depth", "regression", 2, parts, _mean_rsa_depth, _rsa_depth_scores)


def _fold_scores(out: list[np.ndarray], data: ProbeData) -> dict[str, float]:
    y = np.asarray(data.targets)
    p = np.stack(out).argmax(1) if out else np.zeros(0, int)
    return {
        "macro_f1": macro_f1(y, p),
        "accuracy": float((y == p).mean()) if len(y) else float("nan"),
    }


@probe_task("fold")
def _fold_task(
    ds: BenchDataset, tokens: Mapping[str, np.ndarray], ligands: tuple[str, ...]
) -> ProbeTask | None:
    split = ds.splits["scop"]
    counts: dict[int, int] = {}
    for c in split.train:
        counts[ds.scop[c][0]] = counts.get(ds.scop[c][0], 0) + 1
    folds = sorted(f for f, n in counts.items() if n >= 3)
    if len(folds) < 2:
        return None
    fidx = {f: i for i, f in enumerate(folds)}
    parts = _parts(ds, "scop", tokens, lambda c: fidx.get(ds.scop[c][0]) if c in ds.scop else None)
    parts = {k: ProbeData(v.tokens, [np.asarray(t, np.int64) for t in v.targets]) for k, v in parts.items()}
    parts = {k: v for k, v in parts.items() if len(v) or k in ("train", "valid")}
    return ProbeTask("fold", "protein", len(folds), parts, _metric(_fold_scores, "macro_f1"), _fold_scores)


def _flexibility_scores(out: list[np.ndarray], data: ProbeData) -> dict[str, float]:
    y = np.concatenate(data.targets)[:, 0]
    p = np.concatenate(out)[:, 0]
    ok = ~np.isnan(y)
    return {"bfactor_spearman": spearman(y[ok], p[ok])}


@probe_task("flexibility")
def _flexibility_task(
    ds: BenchDataset, tokens: Mapping[str, np.ndarray], ligands: tuple[str, ...]
) -> ProbeTask | None:
    if "flex" not in ds.splits:
        return None

    def target(c: str) -> np.ndarray | None:
        b = ds.items[c].annotations.get("bfactor")
        if b is None:
            return None
        z = (b - np.nanmean(b)) / (np.nanstd(b) + 1e-6)
        return z[:, None].astype(np.float32)

    parts = _parts(ds, "flex", tokens, target)
    select = _metric(_flexibility_scores, "bfactor_spearman")
    return ProbeTask("flexibility", "regression", 1, parts, select, _flexibility_scores)


EFFECTIVENESS_TASKS: tuple[str, ...] = tuple(PROBE_TASKS)


def _run_task(task: ProbeTask, vectors: np.ndarray, cfg: ProbeConfig, tokenizer: str) -> list[Result]:
    train, valid = task.parts["train"], task.parts["valid"]
    tests = {k: v for k, v in task.parts.items() if k not in ("train", "valid") and len(v)}
    if len(train) == 0 or not tests:
        log.warning("%s/%s: no training or test chains; skipped", tokenizer, task.name)
        return []
    # learning-rate sweep on validation (seed 0)
    fit = functools.partial(
        train_probe, vectors, train, valid, kind=task.kind, out_dim=task.out_dim, score=task.select, cfg=cfg
    )
    sweep = {}
    for lr in cfg.lrs:
        model, val = fit(lr=lr, seed=0)
        sweep[lr] = (val, model)
    best_lr = max(sweep, key=lambda lr: sweep[lr][0])
    per_seed: list[dict[str, dict[str, float]]] = []
    for seed in range(cfg.seeds):
        if seed == 0:
            model = sweep[best_lr][1]
        else:
            model, _ = fit(lr=best_lr, seed=seed)
        per_seed.append({name: task.scores(predict(model, data), data) for name, data in tests.items()})
    out = [Result(tokenizer, task.name, "valid", "best_lr", best_lr, float("nan"), len(cfg.lrs))]
    for split_name, data in tests.items():
        for metric in per_seed[0][split_name]:
            vals = np.array([s[split_name][metric] for s in per_seed], np.float64)
            out.append(
                Result(
                    tokenizer,
                    task.name,
                    split_name,
                    metric,
                    float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan"),
                    float(np.nanstd(vals)) if np.isfinite(vals).any() else float("nan"),
                    len(data),
                )
            )
    return out


def effectiveness(
    ds: BenchDataset,
    tokens: Mapping[str, np.ndarray],
    vectors: np.ndarray,
    cfg: ProbeConfig,
    *,
    tokenizer: str,
    ligands: tuple[str, ...],
    tasks: tuple[str, ...] = EFFECTIVENESS_TASKS,
) -> list[Result]:
    """Train and score every probe task for one tokenizer.

    Parameters
    ----------
    tokens : mapping chain id -> ndarray, shape=(L,), int64
        The tokenizer's tokens (computed once per chain and shared by all tasks).
    vectors : ndarray, shape=(K, D)
        The frozen probe lookup table.

    Returns
    -------
    list of Result
        Mean ± std over ``cfg.seeds`` seeds; ``n`` = test chains. A ``best_lr`` row records the sweep.
    """
    results: list[Result] = []
    for name in tasks:
        task = build_probe_task(name, ds, tokens, ligands) if _has_tokens(name, ds, tokens) else None
        if task is None:
            log.info("%s/%s: not applicable (no data or no tokens)", tokenizer, name)
            continue
        results.extend(_run_task(task, vectors, cfg, tokenizer))
    return results


def _has_tokens(name: str, ds: BenchDataset, tokens: Mapping[str, np.ndarray]) -> bool:
    family = {"binding": "binding", "flexibility": "flex"}.get(name, "scop")
    ids = ds.ids(family)
    return bool(ids) and all(c in tokens for c in ids)
