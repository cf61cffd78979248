"""Writing chains / complexes back out and reading them again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protok import errors
from protok.structures import ProteinChain, read_structure, to_atom_array, write_structure


@pytest.mark.parametrize("ext", ["pdb", "cif", "bcif", "pdb.gz", "cif.gz"])
def test_round_trip_keeps_backbone(structures_dir: Path, tmp_path: Path, ext: str) -> None:
    cx = read_structure(structures_dir / "2xhe.pdb.gz")
    out = write_structure(cx, tmp_path / f"x.{ext}")
    back = read_structure(out)
    assert back.chain_ids == cx.chain_ids
    for a, b in zip(cx.chains, back.chains, strict=True):
        assert a.sequence == b.sequence
        np.testing.assert_array_equal(a.atom_mask, b.atom_mask)  # the masked atoms of A617 stay absent
        np.testing.assert_allclose(a.coords, b.coords, atol=1e-3)
        np.testing.assert_array_equal(a.res_ids, b.res_ids)
        np.testing.assert_array_equal(a.is_modified, b.is_modified)


def test_to_atom_array_omits_masked_atoms(structures_dir: Path) -> None:
    cx = read_structure(structures_dir / "2xhe.pdb.gz")
    atoms = to_atom_array(cx)
    assert atoms.array_length() == sum(int(c.atom_mask.sum()) for c in cx.chains)
    assert set(atoms.atom_name) == {"N", "CA", "C", "O"}
    assert not np.isnan(atoms.coord).any()


def test_modified_residue_names_survive(structures_dir: Path, tmp_path: Path) -> None:
    chain = read_structure(structures_dir / "1a8o.pdb").chains[0]
    back = read_structure(write_structure(chain, tmp_path / "m.pdb")).chains[0]
    assert list(back.res_names[back.is_modified]) == ["MSE"] * 4 and back.sequence == chain.sequence


def test_sequence_only_chain_gets_three_letter_names(tmp_path: Path) -> None:
    coords = np.zeros((2, 4, 3), dtype=np.float32)
    coords[:, :, 0] = np.arange(8).reshape(2, 4) * 1.4
    chain = ProteinChain(coords=coords, atom_mask=np.ones((2, 4), bool), sequence="GW")
    back = read_structure(write_structure(chain, tmp_path / "d.cif")).chains[0]
    assert list(back.res_names) == ["GLY", "TRP"] and back.sequence == "GW"


def test_unknown_extension(structures_dir: Path, tmp_path: Path) -> None:
    cx = read_structure(structures_dir / "1ubi.pdb")
    with pytest.raises(errors.UnknownFormatError, match="extension"):
        write_structure(cx, tmp_path / "x.xyz")
