import numpy as np
import pytest

from protok.bench.sources import read_scop
from protok.bench.splits import Split, scop_split, sequence_groups, sequence_split


def test_split_rejects_overlap():
    with pytest.raises(ValueError, match="both"):
        Split(("a", "b"), ("c",), {"test": ("a",)})


def test_scop_split_holds_out_superfamilies_not_folds(data_dir):
    labels = read_scop(data_dir / "promod3" / "scop2.tsv")
    s = scop_split(labels, seed=42)
    train_sf = {labels[c][1] for c in s.train}
    train_fold = {labels[c][0] for c in s.train + s.valid}
    rest_fold = {labels[c][0] for c in s.train + s.valid + s.tests["superfamily_test"]}
    fold_test = s.tests["fold_test"]
    assert fold_test and s.tests["superfamily_test"]
    # held-out superfamilies never appear in training; their folds do (via other superfamilies)
    assert not {labels[c][1] for c in fold_test} & train_sf
    # nearly every fold_test fold keeps training chains (a multi-fold superfamily can empty a fold)
    assert np.mean([labels[c][0] in rest_fold for c in fold_test]) > 0.9
    # superfamily test chains come from superfamilies seen in training
    assert {labels[c][1] for c in s.tests["superfamily_test"]} <= train_sf
    assert len(set(s.train) | set(s.valid) | set(fold_test) | set(s.tests["superfamily_test"])) == len(labels)
    assert train_fold
    assert scop_split(labels, seed=42) == s  # deterministic


def test_sequence_split_groups_similar_and_same_entry():
    rng = np.random.default_rng(0)
    base = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 120))
    other = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 120))
    seqs = {"1ABC_A": base, "2XYZ_A": base[:60] + "W" + base[61:], "1ABC_B": other, "3QQQ_A": other[::-1]}
    groups = sequence_groups(seqs)
    assert sorted(map(sorted, groups)) == [["1ABC_A", "1ABC_B", "2XYZ_A"], ["3QQQ_A"]]
    s = sequence_split(seqs, test_share=0.2, valid_share=0.0)
    parts = [set(s.train), set(s.valid), set(s.tests["test"])]
    for g in groups:
        assert sum(bool(set(g) & p) for p in parts) == 1
