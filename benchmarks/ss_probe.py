"""The benchmark's secondary-structure probe alone, for tracking checkpoints between full benchmark runs.

Scores each tokenizer exactly as ``protok bench`` scores its ``ss`` task (same data set, split, frozen
code-vector lookup and MLP probe, SS8 and SS3 macro-F1 on the fold- and superfamily-held-out test chains)
but with one learning rate and one seed instead of the sweep and three seeds: a checkpoint's SS in about a
minute once its tokens are cached. Numbers land within a few hundredths of the full run's.

Beside the probe, each row has the tokens' secondary-structure purity on the fold-held-out test chains:
``H(SS3|token)`` and ``H(SS8|token)`` (bits: what a token leaves unsaid about its residue's DSSP state) and the
macro-F1 of the per-token majority state fitted on the training chains (a lookup table; the probe, which sees
one token's vector, lands close to it), and that lookup's F1 for each of the eight DSSP states (macro-F1
counts a rare state such as the bend S as much as the helix H).

    python benchmarks/ss_probe.py --tokenizers v2=protok-provq-small-v2,3di,random -o ss.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def token_purity(ds: Any, tokens: dict[str, np.ndarray]) -> dict[str, Any]:
    """Conditional entropies of DSSP given the token and the per-token majority macro-F1 (fold test), with
    the majority lookup's F1 of each DSSP state."""
    from protok.bench.scores import class_f1, macro_f1
    from protok.bench.tasks.effectiveness import SS3_OF_SS8, SS8_STATES

    lut = {c: i for i, c in enumerate(SS8_STATES)}

    def pooled(ids: Any) -> tuple[np.ndarray, np.ndarray]:
        toks, labels = [], []
        for c in ids:
            dssp = ds.items[c].annotations.get("dssp")
            if dssp is None:
                continue
            y = np.array([lut.get(x, -1) for x in dssp])
            ok = (y >= 0) & (tokens[c] >= 0)
            toks.append(tokens[c][ok])
            labels.append(y[ok])
        return np.concatenate(toks), np.concatenate(labels)

    split = ds.splits["scop"]
    t_train, y_train = pooled(split.train)
    t_test, y_test = pooled(split.tests["fold_test"])
    out: dict[str, Any] = {}
    for name, to_class in (("ss3", SS3_OF_SS8), ("ss8", np.arange(8))):
        a, b = to_class[y_train], to_class[y_test]
        counts = np.zeros((int(max(t_train.max(), t_test.max())) + 1, int(to_class.max()) + 1))
        np.add.at(counts, (t_train, a), 1)
        fallback = np.bincount(a).argmax()
        majority = np.where(counts.sum(1) > 0, counts.argmax(1), fallback)
        out[f"majority_{name}_macro_f1"] = round(macro_f1(b, majority[t_test]), 4)
        if name == "ss8":
            f1 = class_f1(b, majority[t_test], np.arange(len(SS8_STATES)))
            out["majority_ss8_f1_by_state"] = {s: round(float(v), 3) for s, v in zip(SS8_STATES, f1)}
        test_counts = np.zeros_like(counts)
        np.add.at(test_counts, (t_test, b), 1)
        p = test_counts / np.maximum(test_counts.sum(1, keepdims=True), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
        out[f"H({name.upper()}|token)"] = round(float((test_counts.sum(1) * h).sum() / len(b)), 4)
    return out


def ss_scores(
    spec: str, suite_name: str = "full", lr: float = 1e-3, seed_count: int = 1
) -> list[dict[str, Any]]:
    """One row per tokenizer of ``spec`` (as ``protok bench --tokenizers``): SS8/SS3 macro-F1 per test split."""
    import torch

    from protok.bench.adapters import build_adapter, parse_tokenizer_specs
    from protok.bench.cache import ArrayCache, default_cache_dir
    from protok.bench.dataset import prepare_dataset
    from protok.bench.runner import tokenize_dataset
    from protok.bench.sources import default_data_dir, default_flex_dir
    from protok.bench.suites import get_suite
    from protok.bench.tasks.effectiveness import effectiveness

    torch.set_num_threads(1)
    suite = get_suite(suite_name)
    cfg = dataclasses.replace(suite.probe, lrs=(lr,), seeds=seed_count)
    cache = ArrayCache(default_cache_dir())
    ds = prepare_dataset(suite, data_dir=default_data_dir(), cache=cache, flex_dir=default_flex_dir())
    rows = []
    for name, kind, path in parse_tokenizer_specs(spec):
        t0 = time.perf_counter()
        adapter = build_adapter(name, kind, path)
        tokens = tokenize_dataset(adapter, ds, cache)
        results = effectiveness(
            ds, tokens, adapter.probe_vectors(), cfg, tokenizer=name, ligands=suite.ligands, tasks=("ss",)
        )
        row: dict[str, Any] = {"tokenizer": name, "model": path or kind}
        row.update({f"{r.split}/{r.metric}": round(r.value, 4) for r in results if r.metric.startswith("ss")})
        row.update(token_purity(ds, tokens))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizers", required=True, help="as protok bench --tokenizers")
    ap.add_argument("--suite", default="full")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("-o", "--out", type=Path, default=None, help="JSON file to write")
    args = ap.parse_args()
    rows = ss_scores(args.tokenizers, args.suite, args.lr, args.seeds)
    if args.out is not None:
        command = f"python benchmarks/ss_probe.py --tokenizers {args.tokenizers} --suite {args.suite}"
        args.out.write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
