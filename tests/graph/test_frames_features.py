"""Frames, virtual CB and node/edge features checked against facts in real structures."""

from __future__ import annotations

import biotite.structure as struc
import biotite.structure.io.pdb as pdb
import numpy as np
import pytest
import torch

from protok.graph import (
    AA_ALPHABET,
    EDGE_S_DIM,
    NODE_S_DIM,
    RBF_ATOM_PAIRS,
    RBF_COUNT,
    RBF_MAX,
    backbone_dihedrals,
    backbone_frames,
    dihedral,
    encode_sequence,
    rbf,
    virtual_cb,
)


@pytest.fixture(scope="module")
def ubiquitin(structures_dir):
    """1ubi chain A via biotite directly (independent of protok's parser): backbone (76,4,3) and CB atoms."""
    path = structures_dir / "1ubi.pdb"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    a = pdb.PDBFile.read(str(path)).get_structure(model=1)
    a = a[struc.filter_amino_acids(a) & (a.chain_id == "A")]
    bb = np.stack([a[a.atom_name == n].coord for n in ("N", "CA", "C", "O")], axis=1)
    return a, bb


def test_frames_are_rotations_with_documented_axes(chain300):
    x = torch.tensor(chain300.coords).double()
    R = backbone_frames(x)
    eye = torch.eye(3, dtype=torch.float64).expand_as(R)
    assert torch.allclose(R.transpose(1, 2) @ R, eye, atol=1e-10)
    assert torch.allclose(torch.linalg.det(R), torch.ones(len(R), dtype=torch.float64), atol=1e-10)
    local_c = (R.transpose(1, 2) @ (x[:, 2] - x[:, 1]).unsqueeze(-1)).squeeze(-1)
    local_n = (R.transpose(1, 2) @ (x[:, 0] - x[:, 1]).unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(local_c[:, 1:], torch.zeros_like(local_c[:, 1:]), atol=1e-9)  # C on +x
    assert (local_c[:, 0] > 1.4).all() and (local_c[:, 0] < 1.65).all()  # C-CA bond length
    assert local_n[:, 2].abs().max() < 1e-9 and (local_n[:, 1] > 0).all()  # N in xy plane, y > 0


def test_virtual_cb_matches_real_cb(ubiquitin):
    a, bb = ubiquitin
    cb_real = a[a.atom_name == "CB"]
    res_with_cb = np.isin(np.unique(a.res_id), cb_real.res_id)
    cb = virtual_cb(torch.tensor(bb).double()).numpy()[res_with_cb]
    err = np.linalg.norm(cb - cb_real.coord, axis=-1)
    assert len(err) == 70  # 76 residues minus 6 glycines
    assert np.median(err) < 0.12 and err.max() < 0.5, (np.median(err), err.max())
    d_ca_cb = np.linalg.norm(cb - bb[res_with_cb, 1], axis=-1)
    assert abs(d_ca_cb.mean() - 1.52) < 0.02 and 1.40 < d_ca_cb.min() and d_ca_cb.max() < 1.65


def test_dihedrals_match_biotite(ubiquitin):
    a, bb = ubiquitin
    phi, psi, omega = struc.dihedral_backbone(a)
    n = len(bb)
    s = backbone_dihedrals(
        torch.tensor(bb).double(), torch.ones(n, 4, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    )
    assert s.shape == (n, NODE_S_DIM)
    for col, ref in ((0, phi), (2, psi), (4, omega)):
        valid = ~np.isnan(ref)
        assert (s[:, 6 + col // 2].numpy().astype(bool) == valid).all()
        ang = np.arctan2(s[:, col].numpy(), s[:, col + 1].numpy())
        diff = np.angle(np.exp(1j * (ang[valid] - ref[valid])))
        assert np.abs(diff).max() < 1e-4


def test_dihedral_flags_at_breaks_and_missing_atoms(ubiquitin):
    _, bb = ubiquitin
    n = len(bb)
    mask = torch.ones(n, 4, dtype=torch.bool)
    mask[10, 1] = False  # CA of residue 10 missing
    brk = torch.zeros(n, dtype=torch.bool)
    brk[40] = True  # 39 and 40 not bonded
    x = torch.tensor(bb).double().masked_fill(~mask.unsqueeze(-1), 0.0)
    s = backbone_dihedrals(x, mask, brk)
    flags = s[:, 6:]
    assert flags[10].tolist() == [0, 0, 0]  # phi, psi, omega of residue 10 need its CA
    assert flags[9, 2] == 0 and flags[9, 1] == 1  # omega(9) needs CA(10); psi(9) does not
    assert flags[11, 0] == 1
    assert flags[40, 0] == 0 and flags[39, 1] == 0 and flags[39, 2] == 0
    assert flags[0, 0] == 0 and flags[-1, 1] == 0 and flags[-1, 2] == 0
    assert (s[:, :6][flags.repeat_interleave(2, dim=1) == 0] == 0).all()  # sin/cos zeroed when invalid


def test_helix_dihedrals(helix_chain, promod3):
    """DSSP H residues of a real helix chain sit in the right-handed alpha region (phi ~ -63, psi ~ -43)."""
    idx = promod3.index(helix_chain.source.split(":")[1])
    helix = np.array([c == "H" for c in promod3.dssp(idx)])
    n = len(helix_chain)
    s = backbone_dihedrals(
        torch.tensor(helix_chain.coords).double(),
        torch.ones(n, 4, dtype=torch.bool),
        torch.zeros(n, dtype=torch.bool),
    )
    phi = np.degrees(np.arctan2(s[:, 0], s[:, 1]).numpy())[helix]
    psi = np.degrees(np.arctan2(s[:, 2], s[:, 3]).numpy())[helix]
    assert helix.sum() > 30
    assert -75 < np.median(phi) < -50 and -55 < np.median(psi) < -30


def test_dihedral_sign_convention():
    # a right-handed twist of +90 degrees (IUPAC)
    p = torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 1, 1]], dtype=torch.float64)
    assert torch.isclose(dihedral(*p), torch.tensor(-np.pi / 2, dtype=torch.float64))
    p[3, 2] = -1
    assert torch.isclose(dihedral(*p), torch.tensor(np.pi / 2, dtype=torch.float64))


def test_rbf_and_sequence_encoding():
    d = torch.tensor([0.0, 10.0, 20.0, 100.0])
    r = rbf(d)
    assert r.shape == (4, RBF_COUNT)
    assert r[0, 0] == 1 and r[2, -1] == 1 and r[3].max() < 1e-30
    assert int(r[1].argmax()) in (7, 8)
    assert encode_sequence(AA_ALPHABET + "XUBZ-").tolist() == list(range(20)) + [20] * 5
    assert EDGE_S_DIM == len(RBF_ATOM_PAIRS) * RBF_COUNT + 9 + 3 + 66 + 1


def test_rbf_float32_within_1e7_of_float64_and_never_subnormal():
    d = torch.linspace(0.0, 40.0, 100_001)
    got = rbf(d)
    mu = torch.linspace(0.0, RBF_MAX, RBF_COUNT).double()  # the float32 centres the models use
    sigma = RBF_MAX / RBF_COUNT
    want = torch.exp(-(((d.double()[:, None] - mu) / sigma) ** 2).clamp(max=80.0))
    assert float((got.double() - want).abs().max()) < 1e-7
    assert float(got.min()) >= 1.7e-35  # exponent clamped at -80: no subnormal floats
