"""ProMod3 subset archives (Promod3Chains.write_subset) and the split they store, as training uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protok import errors
from protok.structures.promod3 import Promod3Chains, StoredSplit
from protok.training import load_config, load_training_data
from protok.training.data import TrainingData, val_chain_indices

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny.toml"


def _ids(data: TrainingData, which: np.ndarray) -> list[str]:
    return sorted(data.store.ids[i] for i in which)


def test_subset_keeps_every_array_of_the_chosen_chains(mini_promod3: Path, tmp_path: Path) -> None:
    src = Promod3Chains(mini_promod3)
    sub = Promod3Chains(src.write_subset(tmp_path / "sub.npz", [5, 2, 9]))
    assert list(sub.ids) == [src.ids[5], src.ids[2], src.ids[9]]
    assert sorted(np.load(tmp_path / "sub.npz").files) == sorted(np.load(mini_promod3).files)
    for i, j in enumerate([5, 2, 9]):
        a, b = src.chain(j), sub.chain(i)
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.res_ids, b.res_ids)
        assert a.sequence == b.sequence and a.source == b.source
        assert src.dssp(j) == sub.dssp(i)
        np.testing.assert_array_equal(src.sasa(j), sub.sasa(i))
        np.testing.assert_array_equal(src.depth(j), sub.depth(i))
    assert sub.stored_split is None
    with pytest.raises(ValueError, match="unique"):
        src.write_subset(tmp_path / "bad.npz", [1, 1])


def _split_subset(mini_promod3: Path, tmp_path: Path) -> tuple[TrainingData, Path]:
    """The tiny config's split of the mini archive, stored in a subset: all validation chains + 3 training."""
    cfg = load_config(TINY_CONFIG, [f'data.promod3="{mini_promod3}"'])
    full = load_training_data(cfg.data)
    src = Promod3Chains(mini_promod3)
    keep = np.sort(np.concatenate([full.val, full.train[:3]]))  # the store is the archive (no short chains)
    d = cfg.data
    params = {"val_fraction": d.val_fraction, "split_seed": d.split_seed, "min_length": d.min_length}
    params.update(scop=bool(d.scop), source="mini")
    split = StoredSplit(val=np.isin(keep, full.val), group=full.split.group[keep], params=params)
    return full, src.write_subset(tmp_path / "sub.npz", keep, split=split)


def test_training_uses_the_stored_split(mini_promod3: Path, tmp_path: Path) -> None:
    full, path = _split_subset(mini_promod3, tmp_path)
    cfg = load_config(TINY_CONFIG, [f'data.promod3="{path}"'])
    sub = load_training_data(cfg.data)
    assert _ids(sub, sub.val) == _ids(full, full.val)  # the same held-out chains as on the whole archive
    assert set(_ids(sub, sub.train)) <= set(_ids(full, full.train)) and len(sub.train) == 3
    assert [sub.store.ids[i] for i in val_chain_indices(sub, cfg.data)] == [
        full.store.ids[i] for i in val_chain_indices(full, cfg.data)
    ]
    # a subset of the subset passes the stored split on
    again = Promod3Chains(Promod3Chains(path).write_subset(tmp_path / "again.npz", [0, 1, 2]))
    stored = Promod3Chains(path).stored_split
    assert stored is not None and again.stored_split is not None
    np.testing.assert_array_equal(again.stored_split.val, stored.val[:3])


def test_stored_split_refuses_other_settings(mini_promod3: Path, tmp_path: Path) -> None:
    _, path = _split_subset(mini_promod3, tmp_path)
    other = load_config(TINY_CONFIG, [f'data.promod3="{path}"', "data.val_fraction=0.1"])
    with pytest.raises(errors.ConfigError, match="stores a split made with"):
        load_training_data(other.data)
    files = f'data.structures=["{REPO / "structures" / "1ubi.pdb"}"]'
    mixed = load_config(TINY_CONFIG, [f'data.promod3="{path}"', files])
    with pytest.raises(errors.ConfigError, match="data.structures"):
        load_training_data(mixed.data)


def test_incomplete_stored_split_is_corrupt(mini_promod3: Path, tmp_path: Path) -> None:
    d = dict(np.load(mini_promod3))
    d["split_val"] = np.zeros(len(d["id"]), np.uint8)
    np.savez(tmp_path / "bad.npz", **d)
    with pytest.raises(errors.CorruptStructureError, match="incomplete stored split"):
        _ = Promod3Chains(tmp_path / "bad.npz").stored_split
