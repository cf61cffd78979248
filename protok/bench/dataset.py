"""Prepare (once, cached by content hash) the chains, labels and splits a suite needs."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protok.bench.cache import ArrayCache, file_hash, hash_parts
from protok.bench.item import BenchItem
from protok.bench.sources import (
    default_flex_dir,
    flex_files,
    promod3_item,
    read_bfactor_chains,
    read_binding,
    read_scop,
)
from protok.bench.splits import Split, scop_split, sequence_split
from protok.bench.suites import SuiteConfig
from protok.errors import BenchDataNotFoundError
from protok.structures.chain import ProteinChain
from protok.structures.promod3 import Promod3Chains

__all__ = ["BenchDataset", "prepare_dataset", "PREP_VERSION"]

log = logging.getLogger(__name__)

#: Bump when preparation logic changes (invalidates cached data sets).
PREP_VERSION = 3


@dataclass
class BenchDataset:
    """Chains, labels and splits for one suite.

    Attributes
    ----------
    items : dict of str to BenchItem
    scop : dict chain id -> (fold, superfamily)
    binding : dict chain id -> ndarray, shape=(L, G), int8 in {−1 unknown, 0, 1}
    splits : dict task family ("scop", "binding", "flex") -> Split
    key : str
        Content hash of inputs and preparation parameters.
    skipped : dict of str to int
        Counts of chains left out and why.
    """

    items: dict[str, BenchItem]
    scop: dict[str, tuple[int, int]]
    binding: dict[str, np.ndarray]
    splits: dict[str, Split]
    key: str
    skipped: dict[str, int]

    def ids(self, family: str) -> list[str]:
        s = self.splits.get(family)
        if s is None:
            return []
        return [*s.train, *s.valid, *(i for v in s.tests.values() for i in v)]


def _select_scop(
    labels: dict[str, tuple[int, int]], store: Promod3Chains, suite: SuiteConfig, skipped: dict[str, int]
):
    by_fold: dict[int, list[str]] = defaultdict(list)
    for cid in sorted(labels):
        if cid not in store:
            skipped["scop_not_in_archive"] += 1
            continue
        n = int(store.lengths[store.index(cid)])
        if not suite.min_len <= n <= suite.max_len:
            skipped["scop_length_out_of_range"] += 1
            continue
        by_fold[labels[cid][0]].append(cid)
    rng = np.random.default_rng(suite.seed)
    chosen: list[str] = []
    for f in sorted(by_fold, key=lambda f: (-len(by_fold[f]), f)):
        ids = by_fold[f]
        if len(ids) > suite.max_per_fold:
            ids = sorted(rng.choice(ids, suite.max_per_fold, replace=False).tolist())
        chosen.extend(ids[: suite.n_scop - len(chosen)])
        if len(chosen) >= suite.n_scop:
            break
    return {c: labels[c] for c in chosen}


def _build(suite: SuiteConfig, data_dir: Path, flex_files: list[Path]) -> tuple[dict, dict]:
    pm = data_dir / "promod3"
    store = Promod3Chains(pm / "chains.npz")
    skipped: dict[str, int] = defaultdict(int)
    scop = _select_scop(read_scop(pm / "scop2.tsv"), store, suite, skipped)
    bind_raw = read_binding(pm / "binding.tsv", suite.ligands)
    bind: dict[str, np.ndarray] = {}
    for cid in sorted(bind_raw):
        if cid not in store:
            skipped["binding_not_in_archive"] += 1
            continue
        n = int(store.lengths[store.index(cid)])
        if not suite.min_len <= n <= suite.max_len:
            skipped["binding_length_out_of_range"] += 1
            continue
        lab = np.full((n, len(suite.ligands)), -1, np.int8)
        bad = False
        for g, lig in enumerate(suite.ligands):
            v = bind_raw[cid].get(lig)
            if v is None:
                continue
            if len(v) != n:
                bad = True
                break
            lab[:, g] = v
        if bad:
            skipped["binding_label_length_mismatch"] += 1
            continue
        bind[cid] = lab
    if len(bind) > suite.n_binding:
        rng = np.random.default_rng(suite.seed)
        keep = sorted(rng.choice(sorted(bind), suite.n_binding, replace=False).tolist())
        bind = {c: bind[c] for c in keep}
    items = {c: promod3_item(store, c) for c in sorted(set(scop) | set(bind))}
    flex = read_bfactor_chains(flex_files, min_len=suite.min_len, max_len=suite.max_len)
    for it in flex:
        items[it.id] = it
    splits = {
        "scop": scop_split(scop, seed=suite.seed),
        "binding": sequence_split({c: items[c].chain.sequence for c in bind}, seed=suite.seed),
    }
    if flex:
        splits["flex"] = sequence_split({it.id: it.chain.sequence for it in flex}, seed=suite.seed)
    ids = sorted(items)
    lengths = np.array([len(items[i]) for i in ids], np.int64)
    g = len(suite.ligands)

    def cat(fn, dtype, shape=()):
        parts = [fn(items[i]) for i in ids]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros((0, *shape), dtype)

    def ann(name, fill):
        return lambda it: it.annotations.get(name, np.full(len(it), fill))

    arrays = {
        "ids": np.array(ids, dtype="U"),
        "lengths": lengths,
        "coords": cat(lambda it: it.chain.coords, np.float32, (4, 3)),
        "atom_mask": cat(lambda it: it.chain.atom_mask, bool, (4,)),
        "res_ids": cat(lambda it: it.chain.res_ids, np.int32),
        "seq": cat(lambda it: np.frombuffer(it.chain.sequence.encode(), np.uint8), np.uint8),
        "dssp": cat(ann("dssp", ""), "<U1"),
        "sasa": cat(ann("sasa", np.nan), np.float32),
        "depth": cat(ann("depth", np.nan), np.float32),
        "bfactor": cat(ann("bfactor", np.nan), np.float32),
        "binding": cat(lambda it: bind.get(it.id, np.full((len(it), g), -1, np.int8)), np.int8, (g,)),
    }
    meta = {
        "scop": {c: list(v) for c, v in scop.items()},
        "binding_ids": sorted(bind),
        "splits": {k: v.to_dict() for k, v in splits.items()},
        "sources": {i: items[i].chain.source for i in ids},
        "chain_ids": {i: items[i].chain.auth_chain_id for i in ids},
        "skipped": dict(skipped),
    }
    return arrays, meta


def _restore(arrays: dict[str, np.ndarray], meta: dict, key: str) -> BenchDataset:
    ids = [str(i) for i in arrays["ids"]]
    offs = np.concatenate([[0], np.cumsum(arrays["lengths"])])
    items: dict[str, BenchItem] = {}
    for j, cid in enumerate(ids):
        sl = slice(int(offs[j]), int(offs[j + 1]))
        chain = ProteinChain(
            coords=arrays["coords"][sl],
            atom_mask=arrays["atom_mask"][sl],
            sequence=arrays["seq"][sl].tobytes().decode(),
            auth_chain_id=meta["chain_ids"][cid],
            label_chain_id=meta["chain_ids"][cid],
            res_ids=arrays["res_ids"][sl],
            b_factors=arrays["bfactor"][sl],
            source=meta["sources"][cid],
        )
        ann: dict[str, np.ndarray] = {}
        if (arrays["dssp"][sl] != "").all():
            ann["dssp"] = arrays["dssp"][sl]
        for name in ("sasa", "depth", "bfactor"):
            v = arrays[name][sl]
            if not np.isnan(v).all():
                ann[name] = v
        items[cid] = BenchItem(cid, chain, ann)
    binding = {
        c: arrays["binding"][int(offs[ids.index(c)]) : int(offs[ids.index(c) + 1])]
        for c in meta["binding_ids"]
    }
    return BenchDataset(
        items=items,
        scop={c: (int(v[0]), int(v[1])) for c, v in meta["scop"].items()},
        binding=binding,
        splits={k: Split.from_dict(v) for k, v in meta["splits"].items()},
        key=key,
        skipped=meta["skipped"],
    )


def prepare_dataset(
    suite: SuiteConfig,
    *,
    data_dir: str | Path,
    cache: ArrayCache,
    flex_dir: str | Path | None = None,
) -> BenchDataset:
    """Build the suite's data set, or load it from ``cache`` when inputs and parameters are unchanged.

    The cache key hashes the bytes of ``chains.npz``, ``scop2.tsv``, ``binding.tsv`` and every full-atom file
    used, plus :meth:`SuiteConfig.data_params` and :data:`PREP_VERSION`.

    ``flex_dir``: the full-atom files of the flexibility task (default:
    :func:`protok.bench.sources.default_flex_dir`); ``suite.n_flex_files = 0`` leaves the task out.

    Raises
    ------
    BenchDataNotFoundError
        If ``data_dir`` lacks the ProMod3 files.
    """
    data_dir = Path(data_dir)
    pm = data_dir / "promod3"
    inputs = [pm / "chains.npz", pm / "scop2.tsv", pm / "binding.tsv"]
    for p in inputs:
        if not p.is_file():
            raise BenchDataNotFoundError(str(p), "benchmark input missing (see shared/data/README.md)")
    flex = flex_files(Path(flex_dir) if flex_dir else default_flex_dir(), suite.n_flex_files)
    if suite.n_flex_files and not flex:
        log.info("no full-atom files under %s: the flexibility task is skipped", flex_dir)
    key = hash_parts(
        PREP_VERSION,
        suite.data_params(),
        [file_hash(p) for p in inputs],
        [(p.name, file_hash(p)) for p in flex],
    )
    arrays, meta = cache.get_or_compute("dataset", key, lambda: _build(suite, data_dir, flex))
    return _restore(arrays, meta, key)
