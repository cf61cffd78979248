"""How many of ``protok bench``'s chains a training config's split puts in training.

``protok bench`` draws its own StructTokenBench-style splits (SCOP fold / superfamily held out for the
probes; a random draw of SCOP chains for reconstruction and robustness) from the same ProMod3 chains that
``protok train`` splits by superfamily and sequence group for the tokenizer itself. The two splits are made
independently, so a protok model may have been trained on the structures (never on the labels) of the bench's
test chains. This script counts, for each part of the bench's splits and for its reconstruction chains, the
chains in the training part of ``--config``'s split (the shipped v2 models share the split of
``configs/provq_small_v2.toml``; every shipped model's card states its split).

Structures seen in tokenizer training do not leak probe labels (StructTokenBench's tokenizers, ESM3's among
them, were trained on the PDB as well), but a round trip on training chains is not a held-out measure:
``benchmarks/evaluate_model.py`` decodes held-out chains of the config's split.

    python benchmarks/bench_overlap.py --config configs/provq_small_v2.toml \
        --out benchmarks/results/bench_overlap.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import repo_relative


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=Path("configs/provq_small_v2.toml"))
    ap.add_argument("--suite", default="full")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from protok.bench.cache import ArrayCache, default_cache_dir
    from protok.bench.dataset import prepare_dataset
    from protok.bench.runner import reconstruction_ids, robustness_ids
    from protok.bench.sources import default_data_dir, default_flex_dir
    from protok.bench.suites import get_suite
    from protok.training.config import load_config
    from protok.training.data import load_training_data

    data = load_training_data(load_config(args.config).data)
    trained = {data.store.ids[i] for i in data.train}
    suite = get_suite(args.suite)
    ds = prepare_dataset(
        suite, data_dir=default_data_dir(), cache=ArrayCache(default_cache_dir()), flex_dir=default_flex_dir()
    )
    parts: dict[str, list[str]] = {}
    for task, split in ds.splits.items():
        parts[f"{task}/train"] = list(split.train)
        parts[f"{task}/valid"] = list(split.valid)
        parts.update({f"{task}/{name}": list(ids) for name, ids in split.tests.items()})
    parts["reconstruction"] = reconstruction_ids(ds, suite)
    parts["robustness"] = robustness_ids(ds, suite)
    rows = {
        name: {"chains": len(ids), "in_training": sum(i in trained for i in ids)}
        for name, ids in parts.items()
        if ids
    }
    result = {
        "command": "python benchmarks/bench_overlap.py --config "
        + repo_relative(args.config)
        + f" --suite {args.suite}",
        "config": repo_relative(args.config),
        "training_chains": len(trained),
        "held_out_chains": len(data.val),
        "bench": rows,
    }
    for name, row in rows.items():
        print(f"{name:28s} {row['in_training']:5d} of {row['chains']:5d} in training")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
