"""protok.testing: rigid motions, mirror images and the invariance / equivariance assertions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from protok.structures import Promod3Chains, ProteinChain, ProteinComplex
from protok.testing import (
    apply_rigid,
    assert_equivariant_vectors,
    assert_invariant,
    mirror,
    random_rigid_motion,
    random_rotation,
)


@pytest.fixture(scope="module")
def chains(promod3_npz: Path) -> list[ProteinChain]:
    """Two real chains of 40-80 residues from chains.npz, each with one O atom masked."""
    db = Promod3Chains(promod3_npz)
    out = []
    for i in np.flatnonzero((db.lengths >= 40) & (db.lengths <= 80))[:2]:
        c = db.chain(int(i))
        mask = np.array(c.atom_mask)
        mask[3, 3] = False  # one missing O: masks and NaNs must survive the helpers
        out.append(ProteinChain(coords=c.coords, atom_mask=mask, sequence=c.sequence))
    return out


def ca_distances(c: ProteinChain) -> np.ndarray:
    return np.linalg.norm(c.ca[:, None] - c.ca[None], axis=-1)


def signed_volumes(c: ProteinChain) -> np.ndarray:
    """Chiral: signed volume of consecutive CA quadruples (changes sign under a mirror)."""
    x = c.ca.astype(np.float64)
    a, b, d = x[1:-2] - x[:-3], x[2:-1] - x[:-3], x[3:] - x[:-3]
    return np.einsum("ij,ij->i", np.cross(a, b), d)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_random_rotation_is_proper_and_reproducible(dtype):
    for seed in range(20):
        r = random_rotation(seed, dtype=dtype)
        assert r.dtype == dtype and r.shape == (3, 3)
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        assert torch.allclose(r @ r.T, torch.eye(3, dtype=dtype), atol=tol)
        assert abs(float(torch.linalg.det(r)) - 1.0) < tol
    assert torch.equal(random_rotation(3), random_rotation(3))
    assert not torch.equal(random_rotation(3), random_rotation(4))
    g = torch.Generator().manual_seed(1)
    assert not torch.equal(random_rotation(g), random_rotation(g))  # a generator advances


def test_random_rotations_cover_so3():
    # Haar-uniform rotations: the mean of R e_z over many draws is near 0 (not biased to one hemisphere)
    zs = torch.stack([random_rotation(s)[:, 2] for s in range(400)])
    assert zs.mean(0).norm() < 0.15


def test_apply_rigid_round_trip_keeps_masks(chains):
    c = chains[0]
    rot, t = random_rigid_motion(5, translation_scale=50.0)
    moved = apply_rigid(c, rot, t)
    assert isinstance(moved, ProteinChain)
    assert np.array_equal(moved.atom_mask, c.atom_mask) and np.isnan(moved.coords[3, 3]).all()
    assert moved.sequence == c.sequence and np.array_equal(moved.chain_breaks, c.chain_breaks)
    assert np.abs(moved.ca - c.ca).max() > 1.0
    back = apply_rigid(apply_rigid(moved, torch.eye(3), -t), rot.T)
    assert np.allclose(back.coords, c.coords, atol=1e-4, equal_nan=True)
    with pytest.raises(ValueError):
        apply_rigid(c, np.eye(2))


def test_helpers_accept_complexes(chains):
    cx = ProteinComplex(chains=tuple(chains), source="test")
    rot, t = random_rigid_motion(1)
    moved = apply_rigid(cx, rot, t)
    assert isinstance(moved, ProteinComplex) and len(moved) == 2 and moved.source == "test"
    assert_invariant(
        lambda x: np.concatenate([ca_distances(c).ravel() for c in x.chains]), cx, n=3, atol=1e-3
    )
    with pytest.raises(TypeError):
        apply_rigid(chains[0].coords, rot, t)  # type: ignore[arg-type]


def test_mirror_preserves_distances_and_flips_chirality(chains):
    c = chains[0]
    m = mirror(c, axis=1)
    assert np.allclose(ca_distances(m), ca_distances(c), atol=1e-4)
    assert np.allclose(signed_volumes(m), -signed_volumes(c), atol=1e-3)
    with pytest.raises(ValueError):
        mirror(c, axis=3)


def test_assert_invariant_passes_and_fails(chains):
    c = chains[0]
    assert_invariant(ca_distances, c, n=10, atol=1e-3)
    assert_invariant(lambda x: torch.tensor(signed_volumes(x)), c, n=10, atol=1e-2, rtol=1e-4)
    assert_invariant(lambda x: (ca_distances(x) < 8.0).sum(1), c, n=10)  # integer contact counts, exact
    with pytest.raises(AssertionError, match="max abs error"):
        assert_invariant(lambda x: x.ca, c, n=2)  # raw coordinates are not invariant
    with pytest.raises(AssertionError, match="differs at"):
        assert_invariant(lambda x: np.argsort(x.ca[:, 0]), c, n=3)  # integer output, not invariant
    # the mismatch allowance is a fraction of entries
    assert_invariant(lambda x: np.argsort(x.ca[:, 0]), c, n=3, max_int_mismatch=1.0)
    with pytest.raises(AssertionError, match="changed shape"):
        assert_invariant(lambda x: np.zeros(1 if x.ca[0, 0] > x.ca[1, 0] else 2), c, n=10)


def test_assert_equivariant_vectors_passes_and_fails(chains):
    c = chains[0]
    assert_equivariant_vectors(lambda x: x.ca[1:] - x.ca[:-1], c, n=10, atol=1e-3)
    assert_equivariant_vectors(
        lambda x: {"ca": x.ca, "n": x.coords[:, 0]}, c, n=10, positions=True, atol=1e-3
    )
    with pytest.raises(AssertionError):
        assert_equivariant_vectors(lambda x: x.ca, c, n=2)  # positions also translate
    with pytest.raises(AssertionError):
        assert_equivariant_vectors(lambda x: np.ones((5, 3)), c, n=2)  # invariant, not equivariant
    with pytest.raises(AssertionError, match="last axis of size 3"):
        assert_equivariant_vectors(ca_distances, c, n=1)
