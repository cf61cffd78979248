"""RMSD and Kabsch superposition on real backbones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from protok.metrics import backbone_rmsd, ca_rmsd, kabsch_align, rmsd
from protok.testing import random_rigid_motion


def _moved(x: np.ndarray, seed: int) -> np.ndarray:
    rot, t = random_rigid_motion(seed)
    return x @ rot.numpy().T + t.numpy()


def test_rigid_copy_has_zero_rmsd(backbones):
    for i, x in enumerate(backbones):
        y = _moved(x, i)
        assert backbone_rmsd(y, x) < 1e-8
        assert ca_rmsd(y, x) < 1e-8
        # without superposition the motion is visible
        assert backbone_rmsd(y, x, align=False) > 1.0


def test_translation_only_without_alignment_equals_shift(backbones):
    x = backbones[0]
    assert rmsd(x[:, 1] + np.array([3.0, 4.0, 0.0]), x[:, 1], align=False) == pytest.approx(5.0)


def test_kabsch_returns_proper_rotation_and_recovers_motion(backbones):
    x = backbones[1][:, 1]
    rot, t = random_rigid_motion(7)
    y = x @ rot.numpy().T + t.numpy()
    aligned, r_fit, t_fit = kabsch_align(x, y)
    assert np.linalg.det(r_fit) == pytest.approx(1.0)
    np.testing.assert_allclose(r_fit, rot.numpy(), atol=1e-8)
    np.testing.assert_allclose(t_fit, t.numpy(), atol=1e-6)
    np.testing.assert_allclose(aligned, y, atol=1e-6)


def test_mirror_image_is_not_superposable(backbones):
    x = backbones[0]
    y = x * np.array([-1.0, 1.0, 1.0])
    assert backbone_rmsd(y, x) > 1.0


def test_noise_rmsd_matches_its_scale(backbones):
    x = backbones[0]
    rng = np.random.default_rng(0)
    y = _moved(x, 3) + rng.normal(scale=0.5, size=x.shape)
    # isotropic noise of sigma per axis gives RMSD ~ sigma * sqrt(3) (slightly less after fitting)
    assert 0.8 < backbone_rmsd(y, x) < 0.87


def test_mask_and_nan_atoms_are_ignored(backbones):
    x = backbones[2]
    y = _moved(x, 1)
    y[10] += 50.0  # a wildly wrong residue ...
    mask = np.ones(len(x), bool)
    mask[10] = False  # ... that is masked out
    assert ca_rmsd(y, x, mask) < 1e-8
    y_nan = y.copy()
    y_nan[10] = np.nan
    assert ca_rmsd(y_nan, x) < 1e-8  # NaN (missing) atoms drop out on their own


def test_torch_batched_matches_numpy_per_item(backbones):
    n = min(len(b) for b in backbones)
    xs = np.stack([b[:n] for b in backbones])
    rng = np.random.default_rng(1)
    ys = np.stack([_moved(b[:n], i) + rng.normal(scale=0.3, size=(n, 4, 3)) for i, b in enumerate(backbones)])
    mask = rng.random((len(backbones), n)) > 0.2
    batched = backbone_rmsd(
        torch.tensor(ys, dtype=torch.float32), torch.tensor(xs, dtype=torch.float32), torch.tensor(mask)
    )
    assert isinstance(batched, torch.Tensor) and batched.shape == (len(backbones),)
    single = [backbone_rmsd(ys[i], xs[i], mask[i]) for i in range(len(backbones))]
    np.testing.assert_allclose(batched.numpy(), single, atol=1e-4)


def test_empty_mask_gives_nan(backbones):
    x = backbones[0]
    assert np.isnan(ca_rmsd(x, x, np.zeros(len(x), bool)))
