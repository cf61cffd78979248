"""lDDT-CA against a brute-force reference implementation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from protok.metrics import lddt_ca
from protok.testing import random_rigid_motion


def _lddt_reference(pred: np.ndarray, ref: np.ndarray, cutoff: float = 15.0) -> float:
    """Textbook lDDT-CA with explicit loops (Mariani et al. 2013, CA only, no stereo checks)."""
    kept = total = 0
    for i, j in itertools.permutations(range(len(ref)), 2):
        d_ref = np.linalg.norm(ref[i] - ref[j])
        if d_ref >= cutoff:
            continue
        diff = abs(np.linalg.norm(pred[i] - pred[j]) - d_ref)
        for thr in (0.5, 1.0, 2.0, 4.0):
            total += 1
            kept += diff < thr
    return kept / total


def test_rigid_copy_scores_one(backbones):
    for i, x in enumerate(backbones):
        rot, t = random_rigid_motion(i)
        y = x[:, 1] @ rot.numpy().T + t.numpy()
        assert lddt_ca(y, x[:, 1]) == pytest.approx(1.0)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
def test_matches_bruteforce(backbones, sigma):
    ref = backbones[0][:80, 1]
    pred = ref + np.random.default_rng(0).normal(scale=sigma, size=ref.shape)
    assert lddt_ca(pred, ref) == pytest.approx(_lddt_reference(pred, ref), abs=1e-12)


def test_local_error_only_hurts_neighbours(backbones):
    ref = backbones[0][:, 1]
    pred = ref.copy()
    pred[5] += np.array([3.0, 0.0, 0.0])
    per_res = lddt_ca(pred, ref, per_residue=True)
    assert per_res[5] < 0.8
    far = np.linalg.norm(ref - ref[5], axis=-1) >= 15.0
    assert far.any() and np.allclose(per_res[far], 1.0)
    assert lddt_ca(pred, ref) < 1.0


def test_batched_torch_with_mask(backbones):
    n = min(len(b) for b in backbones)
    refs = torch.tensor(np.stack([b[:n, 1] for b in backbones]))
    preds = refs + 0.7 * torch.randn(refs.shape, generator=torch.Generator().manual_seed(0), dtype=refs.dtype)
    mask = torch.ones(refs.shape[:2], dtype=torch.bool)
    mask[:, :10] = False
    got = lddt_ca(preds, refs, mask)
    for i in range(len(backbones)):
        assert float(got[i]) == pytest.approx(lddt_ca(preds[i, 10:].numpy(), refs[i, 10:].numpy()), abs=1e-12)
