"""Train / validation / test splits as StructTokenBench makes them; no chain is in two parts.

* SCOP-labelled chains: per fold, a share of its superfamilies is held out (``fold_test``: the fold was seen
  in training, the superfamily was not); within the rest, a share of each superfamily's chains is held out
  (``superfamily_test``); a share of what remains is validation.
* Other chains: a sequence split; chains sharing a PDB entry or a k-mer-similar sequence are grouped
  (single linkage) and whole groups are assigned, so near-identical sequences never straddle the split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "scop_split", "sequence_split", "sequence_groups"]


@dataclass(frozen=True)
class Split:
    """Chain ids per part; ``tests`` maps a test-split name to its chain ids."""

    train: tuple[str, ...]
    valid: tuple[str, ...]
    tests: dict[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for part, ids in [("train", self.train), ("valid", self.valid), *self.tests.items()]:
            for i in ids:
                if i in seen:
                    raise ValueError(f"chain {i} is in both {seen[i]} and {part}")
                seen[i] = part

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "train": list(self.train),
            "valid": list(self.valid),
            **{k: list(v) for k, v in self.tests.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[str]]) -> Split:
        tests = {k: tuple(v) for k, v in d.items() if k not in ("train", "valid")}
        return cls(tuple(d["train"]), tuple(d["valid"]), tests)


def scop_split(
    labels: Mapping[str, tuple[int, int]],
    *,
    seed: int = 42,
    fold_holdout: float = 0.4,
    superfamily_holdout: float = 0.2,
    valid_share: float = 0.1,
) -> Split:
    """Fold- and superfamily-held-out split.

    Parameters
    ----------
    labels : mapping chain id -> (fold, superfamily)
    seed : int
        StructTokenBench uses 42.
    fold_holdout : float
        Share of each fold's superfamilies held out (folds with at least 2 superfamilies, at most all but
        one). A SCOP2 superfamily listed under several folds is held out from all of them, so a few folds
        can end up with no training chain (per-protein fold classification drops such test chains).
    superfamily_holdout : float
        Share of each remaining superfamily's chains held out (superfamilies with at least 3 chains).
    valid_share : float
        Share of the remaining chains used for validation.

    Returns
    -------
    Split
        ``tests`` has ``fold_test`` and ``superfamily_test``.
    """
    rng = np.random.default_rng(seed)
    by_fold: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for cid in sorted(labels):
        f, s = labels[cid]
        by_fold[f][s].append(cid)
    held_out: set[int] = set()
    for f in sorted(by_fold):
        sfs = sorted(by_fold[f])
        n_out = min(int(round(fold_holdout * len(sfs))), len(sfs) - 1) if len(sfs) >= 2 else 0
        if n_out:
            held_out.update(int(x) for x in rng.choice(sfs, size=n_out, replace=False))
    # a SCOP2 superfamily can sit under several folds: hold it out everywhere
    fold_test: list[str] = []
    rest: dict[int, list[str]] = defaultdict(list)
    for cid in sorted(labels):
        s = labels[cid][1]
        if s in held_out:
            fold_test.append(cid)
        else:
            rest[s].append(cid)
    sf_test: list[str] = []
    remaining: list[str] = []
    for s in sorted(rest):
        ids = list(rest[s])
        rng.shuffle(ids)
        n_out = int(round(superfamily_holdout * len(ids))) if len(ids) >= 3 else 0
        sf_test.extend(ids[:n_out])
        remaining.extend(ids[n_out:])
    remaining.sort()
    rng.shuffle(remaining)
    n_valid = int(round(valid_share * len(remaining)))
    return Split(
        train=tuple(sorted(remaining[n_valid:])),
        valid=tuple(sorted(remaining[:n_valid])),
        tests={"fold_test": tuple(sorted(fold_test)), "superfamily_test": tuple(sorted(sf_test))},
    )


def sequence_groups(sequences: Mapping[str, str], *, k: int = 5, min_shared: float = 0.3) -> list[list[str]]:
    """Group chains by PDB entry and by shared k-mers (single linkage).

    Two chains are linked when they share a PDB id (the part before ``_`` or ``:``) or when the share of
    distinct k-mers of the shorter sequence found in the other is at least ``min_shared``.
    """
    ids = sorted(sequences)
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    entry: dict[str, int] = {}
    kmers: list[set[str]] = []
    index: dict[str, list[int]] = defaultdict(list)
    for i, cid in enumerate(ids):
        e = cid.replace(":", "_").split("_")[0].lower()
        if e in entry:
            union(i, entry[e])
        else:
            entry[e] = i
        s = sequences[cid]
        km = {s[j : j + k] for j in range(len(s) - k + 1)}
        kmers.append(km)
        for m in km:
            index[m].append(i)
    for i in range(len(ids)):
        shared: dict[int, int] = defaultdict(int)
        for m in kmers[i]:
            lst = index[m]
            if len(lst) > 200:  # low-complexity k-mer shared by many unrelated chains
                continue
            for j in lst:
                if j > i:
                    shared[j] += 1
        for j, c in shared.items():
            denom = max(1, min(len(kmers[i]), len(kmers[j])))
            if c / denom >= min_shared:
                union(i, j)
    groups: dict[int, list[str]] = defaultdict(list)
    for i, cid in enumerate(ids):
        groups[find(i)].append(cid)
    return [groups[g] for g in sorted(groups)]


def sequence_split(
    sequences: Mapping[str, str], *, seed: int = 42, test_share: float = 0.2, valid_share: float = 0.1
) -> Split:
    """Sequence-similarity-grouped split; ``tests`` has one part, ``test``."""
    groups = sequence_groups(sequences)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(groups))
    n = sum(len(g) for g in groups)
    test: list[str] = []
    valid: list[str] = []
    train: list[str] = []
    for gi in order:
        g = groups[gi]
        if len(test) < test_share * n:
            test.extend(g)
        elif len(valid) < valid_share * n:
            valid.extend(g)
        else:
            train.extend(g)
    return Split(tuple(sorted(train)), tuple(sorted(valid)), {"test": tuple(sorted(test))})
