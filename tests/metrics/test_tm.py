"""TM-score: identities and agreement with TM-align (tmtools) on real chains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from protok.metrics import tm_d0, tm_score
from protok.testing import random_rigid_motion

tmtools = pytest.importorskip("tmtools")

#: Agreement with TM-align given the same fixed residue correspondence. Measured worst case over the
#: chains and noise levels below: 0.0017 (our search finds a slightly better superposition at sigma 3).
TOL_FIXED = 3e-3
#: Agreement with TM-align's own alignment search for near-identical pairs (sigma 0.3 A).
TOL_FREE = 2e-3


def _noisy(x: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rot, t = random_rigid_motion(seed)
    rng = np.random.default_rng(seed)
    return x @ rot.numpy().T + t.numpy() + rng.normal(scale=sigma, size=x.shape)


def test_rigid_copy_scores_one(backbones):
    for i, x in enumerate(backbones):
        assert tm_score(_noisy(x[:, 1], 0.0, i), x[:, 1]) == pytest.approx(1.0, abs=1e-9)


def test_d0_formula():
    assert float(tm_d0(100.0)) == pytest.approx(1.24 * 85 ** (1 / 3) - 1.8)
    assert float(tm_d0(15.0)) == 0.5
    assert float(tm_d0(22.0)) == pytest.approx(max(0.5, 1.24 * 7 ** (1 / 3) - 1.8))


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0])
def test_matches_tmalign_with_fixed_alignment(backbones, sigma):
    for i, x in enumerate(backbones):
        ref = np.ascontiguousarray(x[:, 1])
        pred = np.ascontiguousarray(_noisy(ref, sigma, i))
        seq = "A" * len(ref)
        expected = tmtools.tm_align(pred, ref, seq, seq, alignment=[seq, seq]).tm_norm_chain2
        assert tm_score(pred, ref) == pytest.approx(expected, abs=TOL_FIXED), (i, sigma)


def test_matches_tmalign_search_for_near_identical_pairs(backbones):
    for i, x in enumerate(backbones):
        ref = np.ascontiguousarray(x[:, 1])
        pred = np.ascontiguousarray(_noisy(ref, 0.3, 10 + i))
        seq = "A" * len(ref)
        expected = tmtools.tm_align(pred, ref, seq, seq).tm_norm_chain2
        assert tm_score(pred, ref) == pytest.approx(expected, abs=TOL_FREE)


def test_better_than_plain_kabsch_on_a_domain_motion(backbones):
    """Half the chain displaced: the fragment search must find the better half-superposition."""
    ref = backbones[0][:, 1]
    pred = ref.copy()
    half = len(ref) // 2
    pred[half:] += np.array([20.0, 0.0, 0.0])
    from protok.metrics import kabsch_align
    from protok.metrics.tm import tm_d0 as d0f

    aligned, _, _ = kabsch_align(pred, ref)
    d = np.linalg.norm(aligned - ref, axis=-1)
    kabsch_only = float(np.mean(1 / (1 + (d / float(d0f(len(ref)))) ** 2)))
    ours = tm_score(pred, ref)
    assert ours > kabsch_only + 0.02
    assert ours >= 0.45  # at least one half matches
    seq = "A" * len(ref)
    tmalign = tmtools.tm_align(
        np.ascontiguousarray(pred), np.ascontiguousarray(ref), seq, seq, alignment=[seq, seq]
    )
    assert ours == pytest.approx(tmalign.tm_norm_chain2, abs=TOL_FIXED)


def test_batched_torch_matches_single_and_masks(backbones):
    n = min(len(b) for b in backbones)
    refs = np.stack([b[:n, 1] for b in backbones])
    preds = np.stack([_noisy(r, 1.0, i) for i, r in enumerate(refs)])
    mask = np.ones(refs.shape[:2], bool)
    mask[:, ::5] = False
    got = tm_score(torch.tensor(preds), torch.tensor(refs), torch.tensor(mask))
    assert got.shape == (len(backbones),)
    for i in range(len(backbones)):
        assert float(got[i]) == pytest.approx(tm_score(preds[i][mask[i]], refs[i][mask[i]]), abs=1e-9)
