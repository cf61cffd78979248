"""Whole-chain copies for held-out robustness checks: seeded noise, and a rigid motion through a PDB file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protok.bench.tasks.robustness import noisy_copies, pdb_rigid_copy
from protok.structures import ProteinChain, read_structure


@pytest.fixture(scope="module")
def chains(structures_dir: Path) -> list[ProteinChain]:
    return [read_structure(structures_dir / f).chains[0] for f in ("1ubi.pdb", "1ejg.pdb")]


def test_noisy_copies_are_seeded_and_of_the_asked_size(chains: list[ProteinChain]) -> None:
    a, b = noisy_copies(chains, 0.1, seed=3), noisy_copies(chains, 0.1, seed=3)
    other = noisy_copies(chains, 0.1, seed=4)
    for c, x, y, z in zip(chains, a, b, other, strict=True):
        assert x.coords.dtype == np.float32 and np.array_equal(x.coords, y.coords)
        assert not np.array_equal(x.coords, z.coords)
        assert np.std(x.coords - c.coords) == pytest.approx(0.1, rel=0.1)
    # one generator over the chains in order: the second chain's noise follows the first's
    rng = np.random.default_rng(3)
    rng.normal(size=chains[0].coords.shape)
    expected = chains[1].coords + rng.normal(0.0, 0.1, chains[1].coords.shape).astype(np.float32)
    np.testing.assert_array_equal(a[1].coords, expected)


def test_pdb_rigid_copy_moves_the_chain_and_keeps_its_shape(
    chains: list[ProteinChain], tmp_path: Path
) -> None:
    chain = chains[0]
    copy = pdb_rigid_copy(chain, tmp_path / "moved.pdb", seed=7)
    assert "ATOM" in (tmp_path / "moved.pdb").read_text()
    assert len(copy) == len(chain) and np.array_equal(copy.res_ids, chain.res_ids)
    assert copy.sequence == chain.sequence
    assert np.abs(copy.coords - chain.coords).max() > 1.0  # really moved
    np.testing.assert_allclose(copy.coords, np.round(copy.coords, 3), atol=1e-4)  # PDB precision

    def dists(c: ProteinChain) -> np.ndarray:
        return np.linalg.norm(c.ca[:, None] - c.ca[None], axis=-1)

    np.testing.assert_allclose(dists(copy), dists(chain), atol=3e-3)
    again = pdb_rigid_copy(chain, tmp_path / "again.pdb", seed=7)
    np.testing.assert_array_equal(again.coords, copy.coords)
