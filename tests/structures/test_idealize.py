"""Backbone idealization on real chains: a native backbone barely moves; a decoded one becomes a valid chain."""

from __future__ import annotations

import numpy as np
import pytest

from protok.structures import read_structure
from protok.structures.idealize import (
    C_N,
    CA_CA,
    CA_CLASH,
    bonded_ca_ok,
    ca_clashes,
    idealize_backbone,
    peptide_bonds_ok,
    peptide_plane,
)


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def _clashes(coords: np.ndarray) -> int:
    ca = coords[:, 1]
    d = _dist(ca[:, None], ca[None])
    i, j = np.triu_indices(len(ca), 2)
    return int((d[i, j] < CA_CLASH).sum())


@pytest.fixture(scope="module")
def ubiquitin(structures_dir) -> np.ndarray:
    return read_structure(structures_dir / "1ubi.pdb").chains[0].coords.astype(np.float64)


@pytest.fixture(scope="module")
def decoded(ubiquitin) -> np.ndarray:
    """Ubiquitin's backbone as a poor decoder gives it: each residue rigid and ideal, but moved and turned
    at random, so bonds between residues are broken (CA-CA 0.5-7 Å) and neighbours overlap."""
    rng = np.random.default_rng(0)
    out = ubiquitin.copy()
    for i in range(len(out)):
        a = rng.normal(size=3) * 0.4
        k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
        rot = np.eye(3) + np.sin(np.linalg.norm(a)) * k / np.linalg.norm(a)
        centre = out[i, 1]
        out[i] = (out[i] - centre) @ rot.T + centre + rng.normal(size=3) * 1.2
    return out


def test_ideal_peptide_geometry() -> None:
    c, o, n = peptide_plane()
    ca0, ca1 = np.zeros(2), np.array([CA_CA, 0.0])
    assert CA_CA == pytest.approx(3.80, abs=0.01)  # trans peptide
    assert _dist(c, ca0) == pytest.approx(1.525, abs=1e-6)
    assert _dist(c, n) == pytest.approx(1.329, abs=1e-6)
    assert _dist(n, ca1) == pytest.approx(1.458, abs=1e-6)
    assert _dist(c, o) == pytest.approx(1.231, abs=1e-6)

    # O is cis to the next CA (same side of the C-N line): the trans peptide
    def side(p: np.ndarray) -> float:
        u, v = n - c, p - c
        return float(np.sign(u[0] * v[1] - u[1] * v[0]))

    assert side(o) == side(ca1) != side(ca0)


def test_native_backbone_barely_moves(ubiquitin) -> None:
    out = idealize_backbone(ubiquitin)
    assert out.shape == ubiquitin.shape and out.dtype == np.float32
    assert np.sqrt(((out - ubiquitin) ** 2).sum(-1).mean()) < 0.1
    assert _dist(out[:, 1], ubiquitin[:, 1]).max() < 0.2


def test_decoded_backbone_becomes_a_valid_chain(decoded, ubiquitin) -> None:
    ok_before, bonds = bonded_ca_ok(decoded)
    assert ok_before < 0.5 * bonds  # the damaged chain really is broken
    out = idealize_backbone(decoded).astype(np.float64)
    ok, bonds = bonded_ca_ok(out, tol=0.05)
    assert ok == bonds
    np.testing.assert_allclose(_dist(out[:-1, 2], out[1:, 0]), 1.329, atol=0.01)  # peptide C-N
    np.testing.assert_allclose(_dist(out[:-1, 2], out[:-1, 3]), 1.231, atol=0.01)  # C=O in each peptide
    assert _clashes(out) < _clashes(decoded)
    # the fold stays where the prediction put it
    assert np.sqrt((_dist(out[:, 1], decoded[:, 1]) ** 2).mean()) < 2.0


def test_breaks_and_missing_residues_end_segments(decoded) -> None:
    x = decoded.copy()
    x[40] = np.nan  # a residue without coordinates
    breaks = np.zeros(len(x), dtype=bool)
    breaks[20] = True  # a gap before residue 20
    out = idealize_backbone(x, breaks).astype(np.float64)
    assert np.isnan(out[40]).all() and np.isfinite(np.delete(out, 40, axis=0)).all()
    ca_ca = _dist(out[:-1, 1], out[1:, 1])
    bonded = np.ones(len(x) - 1, dtype=bool)
    bonded[[19, 39, 40]] = False
    np.testing.assert_allclose(ca_ca[bonded], CA_CA, atol=0.05)
    assert abs(ca_ca[19] - CA_CA) > 0.05  # nothing pulls across the gap
    assert bonded_ca_ok(out, breaks) == (len(x) - 4, len(x) - 4)


def test_short_and_empty_chains() -> None:
    assert idealize_backbone(np.zeros((0, 4, 3))).shape == (0, 4, 3)
    one = np.array([[[-0.5, 1.4, 0.0], [0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [2.1, -1.0, 0.0]]])
    np.testing.assert_allclose(idealize_backbone(one), one, atol=1e-6)


def test_validity_counts_of_native_damaged_and_idealized_chains(ubiquitin, decoded) -> None:
    n = len(ubiquitin)
    assert peptide_bonds_ok(ubiquitin) == (n - 1, n - 1) and ca_clashes(ubiquitin) == 0
    assert ca_clashes(decoded) == _clashes(decoded) > 0  # the cell list finds what the dense count finds
    ok, bonds = peptide_bonds_ok(decoded)
    assert bonds == n - 1 and ok < 0.5 * bonds
    assert peptide_bonds_ok(idealize_backbone(decoded), tol=0.01) == (n - 1, n - 1)
    assert C_N == pytest.approx(_dist(*peptide_plane()[[0, 2]]), abs=1e-9)


def test_validity_counts_skip_breaks_and_missing_atoms(decoded) -> None:
    x = idealize_backbone(decoded).astype(np.float64)
    x[10, 2] = np.nan  # C of residue 10 missing: its peptide bond to 11 is not counted; its CA still is
    x[30] = np.nan  # residue 30 missing: no bond on either side, no clash
    breaks = np.zeros(len(x), dtype=bool)
    breaks[50] = True
    n = len(x) - 1
    assert peptide_bonds_ok(x, breaks) == (n - 4, n - 4)
    assert bonded_ca_ok(x, breaks) == (n - 3, n - 3)
    x[60, 1] = x[62, 1] + 0.5  # a CA 0.5 Å from the CA two residues on
    assert ca_clashes(x) == _clashes(np.nan_to_num(x, nan=1e6)) >= 1
