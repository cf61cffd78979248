"""The homology-aware split: related chains never straddle train and validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protok.training.split import group_chains, read_scop_superfamilies, sequence_minhash, split_chains

AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def _random_seq(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(AA, n))


def _mutate(rng: np.random.Generator, seq: str, identity: float) -> str:
    s = np.array(list(seq))
    pos = rng.choice(len(s), int(round(len(s) * (1 - identity))), replace=False)
    s[pos] = rng.choice(AA, len(pos))
    return "".join(s)


def test_identical_and_near_identical_sequences_share_a_group() -> None:
    rng = np.random.default_rng(0)
    bases = [_random_seq(rng, int(rng.integers(80, 300))) for _ in range(40)]
    seqs, family = [], []
    for f, b in enumerate(bases):
        seqs += [b, b, _mutate(rng, b, 0.95), _mutate(rng, b, 0.9)]
        family += [f] * 4
    group = group_chains(seqs, seed=0)
    family = np.array(family)
    for f in range(len(bases)):
        assert len(set(group[family == f])) == 1, f"family {f} split into several groups"
    # unrelated random sequences are not merged: one group per family
    assert len(set(group)) == len(bases)


def test_split_keeps_groups_whole_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    seqs, ids = [], []
    for f in range(60):
        b = _random_seq(rng, 120)
        for j in range(3):
            seqs.append(b if j < 2 else _mutate(rng, b, 0.92))
            ids.append(f"F{f:03d}_{j}")
    res = split_chains(ids, seqs, val_fraction=0.2, seed=3)
    again = split_chains(ids, seqs, val_fraction=0.2, seed=3)
    assert np.array_equal(res.train, again.train) and np.array_equal(res.val, again.val)
    assert len(res.val) <= 0.2 * len(ids) and len(res.val) >= 0.1 * len(ids)
    assert set(res.train.tolist()).isdisjoint(res.val.tolist())
    assert len(res.train) + len(res.val) == len(ids)
    val_families = {ids[i][:4] for i in res.val}
    train_families = {ids[i][:4] for i in res.train}
    assert val_families.isdisjoint(train_families)
    other = split_chains(ids, seqs, val_fraction=0.2, seed=4)
    assert not np.array_equal(res.val, other.val)  # the seed matters


def test_superfamily_labels_link_unrelated_sequences() -> None:
    rng = np.random.default_rng(2)
    seqs = [_random_seq(rng, 100) for _ in range(6)]
    ids = [f"C{i}" for i in range(6)]
    sf = {"C0": {"3000001"}, "C3": {"3000001", "3000002"}, "C5": {"3000002"}}
    group = group_chains(seqs, [sf.get(i) for i in ids])
    assert group[0] == group[3] == group[5]
    assert len({group[1], group[2], group[4], group[0]}) == 4


def test_low_complexity_kmers_do_not_merge_unrelated_chains() -> None:
    rng = np.random.default_rng(3)
    tag = "MGSSHHHHHHSSGLVPRGSH"
    seqs = [tag + _random_seq(rng, 60) for _ in range(400)]
    group = group_chains(seqs)
    assert len(set(group)) > 390
    sig = sequence_minhash(["", "ACD"], num_hashes=4)
    assert sig.shape == (2, 4)


def test_real_scop_file(shared_data: Path) -> None:
    sf = read_scop_superfamilies(shared_data / "promod3" / "scop2.tsv")
    assert sf["16PK_A"] == {"3001564"}
    assert len(sf) > 4000
    with pytest.raises(ValueError):
        split_chains(["a"], [], val_fraction=0.1)
