"""Data sources, crops and the step-indexed batch order."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from protok.errors import ConfigError
from protok.training.config import DataConfig
from protok.training.data import (
    CropDataset,
    StepBatchSampler,
    crop_window,
    find_structure_files,
    load_chain_store,
    load_training_data,
    make_train_loader,
)


def test_batch_order_is_a_pure_function_of_seed_and_step() -> None:
    idx = np.arange(10, 17)  # 7 training chains
    a = StepBatchSampler(idx, batch_size=3, seed=5, start_step=0, total_steps=8)
    b = StepBatchSampler(idx, batch_size=3, seed=5, start_step=4, total_steps=8)
    steps_a = list(a)
    assert list(b) == steps_a[4:]
    # every epoch visits every chain exactly once (positions p -> perm_e[p mod n])
    flat = [k for step in steps_a for k in step]
    for epoch in range(2):
        chains = [c for c, e in flat if e == epoch]
        assert sorted(chains) == list(range(10, 17))
    assert StepBatchSampler(idx, 3, seed=6, start_step=0, total_steps=8).keys_for_step(0) != steps_a[0]


def test_ranks_split_each_global_batch() -> None:
    idx = np.arange(40)
    single = StepBatchSampler(idx, batch_size=4, seed=0, start_step=0, total_steps=5)
    ranks = [
        StepBatchSampler(idx, batch_size=2, seed=0, start_step=0, total_steps=5, rank=r, world_size=2)
        for r in range(2)
    ]
    for step in range(5):
        merged = ranks[0].keys_for_step(step) + ranks[1].keys_for_step(step)
        assert merged == single.keys_for_step(step)


def test_crop_window() -> None:
    assert crop_window(50, 64, np.random.default_rng(0)) == (0, 50)
    assert crop_window(100, 64, None) == (0, 64)
    rng = np.random.default_rng(0)
    starts = {crop_window(100, 64, rng)[0] for _ in range(200)}
    assert min(starts) >= 0 and max(starts) <= 36 and len(starts) > 20


def test_promod3_chains_are_cropped_and_batched(mini_promod3: Path) -> None:
    cfg = DataConfig(promod3=str(mini_promod3), crop_length=40, batch_size=3, val_fraction=0.2, knn=8)
    data = load_training_data(cfg)
    assert len(data.train) + len(data.val) == len(data.store) == 24
    loader = make_train_loader(data, cfg, seed=0, start_step=0, total_steps=2)
    batches = list(loader)
    assert len(batches) == 2
    b = batches[0]
    assert b.num_graphs == 3
    assert int(torch.bincount(b.batch).max()) <= 40
    # the crop is a real contiguous window of the source chain
    chain_i = int(b.sample_chain[0])
    full = data.store.get(chain_i).coords[:, 1]
    got = b.coords[b.batch == 0][:, 1].numpy()
    hits = [s for s in range(len(full) - len(got) + 1) if np.allclose(full[s : s + len(got)], got, atol=1e-5)]
    assert hits, "crop is not a contiguous window of its chain"
    # same (seed, step) -> same batch
    again = next(iter(make_train_loader(data, cfg, seed=0, start_step=0, total_steps=1)))
    assert torch.equal(again.coords, b.coords)


def test_bad_structure_files_are_logged_and_skipped(
    structures_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("1ubi.pdb", "1a8o.cif", "not_a_structure.pdb", "empty.pdb"):
        if not (structures_dir / name).is_file():
            pytest.skip(f"structures/{name} not present")
        shutil.copy(structures_dir / name, tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a structure, wrong suffix: ignored")
    cfg = DataConfig(structures=[str(tmp_path)], min_length=20)
    with caplog.at_level(logging.WARNING):
        store = load_chain_store(cfg)
    assert sorted(store.ids) == ["1A8O_A", "1UBI_A"]
    assert "not_a_structure.pdb" in caplog.text and "empty.pdb" in caplog.text
    assert "2 of 4 structure files could not be read" in caplog.text
    chain = store.get(store.ids.index("1UBI_A"))
    assert len(chain) == 76


def test_missing_sources_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="matches no structure file"):
        find_structure_files([str(tmp_path / "*.pdb")])
    with pytest.raises(ConfigError, match="is not a file"):
        load_chain_store(DataConfig(promod3=str(tmp_path / "none.npz")))


def test_coord_noise_reaches_the_encoder_inputs_only(mini_promod3: Path) -> None:
    store = load_chain_store(DataConfig(promod3=str(mini_promod3)))
    clean = CropDataset(store, 40, random_crop=True, seed=3, knn=8)
    noisy = CropDataset(store, 40, random_crop=True, seed=3, knn=8, coord_noise=0.1)
    a, b = clean[(2, 1)], noisy[(2, 1)]
    # same crop, same clean targets and masks; the encoder's features moved by about the noise
    assert torch.equal(a.coords, b.coords) and torch.equal(a.atom_mask, b.atom_mask)
    assert torch.equal(a.residue_idx, b.residue_idx)
    shift = (a.pos - b.pos).norm(dim=-1)
    assert 0.05 < float(shift.mean()) < 0.3  # |N(0, 0.1^2 I_3)| has mean 0.16 Å
    assert not torch.equal(a.edge_dist, b.edge_dist)
    # deterministic per (chain, epoch), different across epochs
    assert torch.equal(noisy[(2, 1)].pos, b.pos) and not torch.equal(noisy[(2, 2)].pos, b.pos)
    # validation (no random crop) never adds noise
    val = CropDataset(store, 40, random_crop=False, seed=3, knn=8, coord_noise=0.1)[(2, 1)]
    assert torch.equal(val.pos, val.coords[:, 1])
    with pytest.raises(ValueError, match="coord_noise"):
        CropDataset(store, 40, random_crop=True, seed=3, knn=8, coord_noise=-1.0)


def test_crop_curriculum_phases_and_resume() -> None:
    from protok.training.config import DataConfig
    from protok.training.data import crop_phases

    cfg = DataConfig(promod3="x", crop_schedule=[[0.0, 128, 4], [0.5, 256, 2], [0.75, 384, 1]])
    phases = crop_phases(cfg, 8)
    assert [(p.start_step, p.stop_step, p.crop_length, p.batch_size) for p in phases] == [
        (0, 4, 128, 4),
        (4, 6, 256, 2),
        (6, 8, 384, 1),
    ]
    idx = np.arange(100, 111)  # 11 chains
    a = StepBatchSampler(idx, 4, seed=1, start_step=0, total_steps=8, phases=phases)
    steps = list(a)
    assert [len(s) for s in steps] == [4, 4, 4, 4, 2, 2, 1, 1]
    assert [s[0][2] for s in steps] == [128] * 4 + [256] * 2 + [384] * 2
    # positions keep counting across phases: the stream is the plain one, chunked differently
    plain = [k for s in StepBatchSampler(idx, 1, seed=1, start_step=0, total_steps=22) for k in s]
    assert [k[:2] for s in steps for k in s] == plain
    assert a.epoch_of_step(6) == (16 + 4) // 11
    resumed = StepBatchSampler(idx, 4, seed=1, start_step=5, total_steps=8, phases=phases)
    assert list(resumed) == steps[5:]
    ranks = [StepBatchSampler(idx, 4, 1, 0, 8, rank=r, world_size=2, phases=phases) for r in range(2)]
    assert ranks[0].keys_for_step(5) != ranks[1].keys_for_step(5)


def test_crop_schedule_validation(tmp_path: Path) -> None:
    from protok.errors import ConfigError
    from protok.training.config import DataConfig, TrainConfig

    bad = TrainConfig(data=DataConfig(promod3="x", crop_schedule=[[0.2, 128, 4]]))
    with pytest.raises(ConfigError, match="crop_schedule"):
        bad.validate()
    TrainConfig(data=DataConfig(promod3="x", crop_schedule=[[0.0, 128, 4], [0.5, 256, 2]])).validate()
