"""Parsing real structure files: values checked against the files' own text, every policy, every error."""

from __future__ import annotations

import gzip
import io
from collections import OrderedDict
from pathlib import Path

import biotite.structure as struc
import biotite.structure.io.pdb as biotite_pdb
import numpy as np
import pytest

from protok import errors
from protok.structures import ProteinComplex, read_chain, read_structure

# file -> {chain id: residues} or the error class; mirrors structures/SOURCES.md
EXPECTED: dict[str, dict[str, int] | type[Exception]] = {
    "1ubi.pdb": {"A": 76},
    "1a8o.pdb": {"A": 70},
    "1a8o.cif": {"A": 70},
    "1ejg.pdb": {"A": 46},
    "1lcd.pdb": {"A": 51},
    "3mht.pdb": {"A": 327},
    "2n0n_model1.pdb": {"A": 11},
    "2xhe.pdb.gz": {"A": 567, "B": 220},
    "3o21.pdb.gz": {"A": 374, "B": 365, "C": 375, "D": 375},
    "3jqh.bcif.gz": {"A": 23},
    "4v8r_h36.pdb.gz": {
        f"{ring}{c}": n
        for ring in "AB"
        for c, n in zip("ABDEGHQZabdeghqz", [537, 517, 515, 528, 509, 519, 523, 531] * 2, strict=True)
    },
    "af2_6kwc_model1.pdb": {"A": 191},
    "ions.pdb": errors.NoProteinChainError,
    "header_only.pdb": errors.EmptyStructureError,
    "1ubi_truncated.pdb": errors.CorruptStructureError,
    "3jqh_truncated.bcif.gz": errors.CorruptStructureError,
    "not_a_structure.pdb": errors.UnknownFormatError,
    "empty.pdb": errors.EmptyStructureError,
}


def _coord_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [ln for ln in f if ln.startswith(("ATOM  ", "HETATM"))]


def _xyz(line: str) -> np.ndarray:
    return np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])], dtype=np.float32)


# --------------------------------------------------------------------------- every shipped file
def test_every_shipped_file_is_documented(structures_dir: Path) -> None:
    shipped = {p.name for p in structures_dir.iterdir() if p.name != "SOURCES.md"}
    assert shipped == set(EXPECTED)
    sources = (structures_dir / "SOURCES.md").read_text()
    for name in shipped:
        assert f"`{name}`" in sources, f"{name} missing from SOURCES.md"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_file_parses_to_documented_result(structures_dir: Path, name: str) -> None:
    path = structures_dir / name
    expected = EXPECTED[name]
    if isinstance(expected, dict):
        cx = read_structure(path)
        assert {c.auth_chain_id: len(c) for c in cx.chains} == expected
        assert cx.source == str(path)
    else:
        with pytest.raises(expected) as info:
            read_structure(path)
        assert str(path) in str(info.value)  # the message names the file


# --------------------------------------------------------------------------- values vs the file text
def test_known_coordinate_and_bfactor_1ubi(structures_dir: Path) -> None:
    chain = read_chain(structures_dir / "1ubi.pdb")
    # ATOM      2  CA  MET A   1      26.381  25.361   2.894  1.00  9.58
    np.testing.assert_allclose(chain.coords[0, 1], [26.381, 25.361, 2.894], atol=1e-4)
    assert chain.b_factors[0] == pytest.approx(9.58)
    assert chain.sequence.startswith("MQIFVKTLTG") and chain.res_ids[0] == 1 and chain.res_ids[-1] == 76
    assert chain.atom_mask.all() and not chain.chain_breaks.any()
    assert chain.coords.dtype == np.float32 and chain.coords.shape == (76, 4, 3)


def test_every_backbone_coordinate_matches_file_text(structures_dir: Path) -> None:
    path = structures_dir / "3o21.pdb.gz"
    cx = read_structure(path)
    lines = [
        ln for ln in _coord_lines(path) if ln[12:16].strip() in ("N", "CA", "C", "O") and ln[17:20] != "HOH"
    ]
    by_key = {(ln[21], int(ln[22:26]), ln[26].strip(), ln[12:16].strip()): _xyz(ln) for ln in lines}
    checked = 0
    for chain in cx.chains:
        for i in range(len(chain)):
            for k, atom in enumerate(("N", "CA", "C", "O")):
                key = (chain.auth_chain_id, int(chain.res_ids[i]), str(chain.ins_codes[i]), atom)
                if chain.atom_mask[i, k]:
                    np.testing.assert_allclose(chain.coords[i, k], by_key[key], atol=1e-3)
                    checked += 1
    assert checked == sum(int(c.atom_mask.sum()) for c in cx.chains) > 5000


def test_bcif_known_coordinate(structures_dir: Path) -> None:
    # Biopython Tests/PDB/3JQH.cif: CA A PRO (label_seq_id 4, auth_seq_id 1) 3.746 20.507 21.289 occ 0.83
    # (altloc B SER, occ 0.17); res_ids are author numbers
    chain = read_chain(structures_dir / "3jqh.bcif.gz")
    assert chain.res_ids[0] == 1 and chain.res_names[0] == "PRO" and chain.sequence[0] == "P"
    np.testing.assert_allclose(chain.coords[0, 1], [3.746, 20.507, 21.289], atol=1e-3)


def test_pdb_and_mmcif_of_same_entry_agree(structures_dir: Path) -> None:
    a = read_chain(structures_dir / "1a8o.pdb")
    b = read_chain(structures_dir / "1a8o.cif")
    assert a.sequence == b.sequence
    np.testing.assert_array_equal(a.res_ids, b.res_ids)
    np.testing.assert_allclose(a.coords, b.coords, atol=1e-3)
    np.testing.assert_array_equal(a.is_modified, b.is_modified)
    assert b.label_chain_id == "A"


def test_predicted_model_plddt_is_ca_bfactor(structures_dir: Path) -> None:
    path = structures_dir / "af2_6kwc_model1.pdb"
    chain = read_chain(path)
    ca = [ln for ln in _coord_lines(path) if ln[12:16] == " CA "]
    np.testing.assert_allclose(chain.b_factors, [float(ln[60:66]) for ln in ca], atol=1e-3)
    assert 0 <= chain.b_factors.min() and chain.b_factors.max() <= 100


# --------------------------------------------------------------------------- policies
def test_modified_residues_mapped_to_parent_via_ccd(structures_dir: Path) -> None:
    chain = read_chain(structures_dir / "1a8o.pdb")
    mse = chain.res_names == "MSE"
    assert mse.sum() == 4
    assert set(np.array(list(chain.sequence))[mse]) == {"M"}
    np.testing.assert_array_equal(chain.is_modified, mse)
    # HETATM  20  CA  MSE A 151      20.255  33.101  26.891
    i = int(np.nonzero(chain.res_ids == 151)[0][0])
    np.testing.assert_allclose(chain.coords[i, 1], [20.255, 33.101, 26.891], atol=1e-3)
    other = read_chain(structures_dir / "2n0n_model1.pdb")
    assert list(other.res_names[[1, 10]]) == ["AIB", "PH8"]
    assert other.sequence[1] == "A" and other.sequence[10] == "X"  # AIB parent ALA; PH8 has none
    assert other.is_modified[[1, 10]].all() and other.is_modified.sum() == 2


def _altloc_reference(lines: list[str]) -> dict[tuple[str, int, str], str]:
    """Plain-Python statement of the policy: highest summed occupancy, ties to the first altloc in the file."""
    sums: OrderedDict[tuple[str, int, str], OrderedDict[str, float]] = OrderedDict()
    for ln in lines:
        if ln[16] != " ":
            key = (ln[21], int(ln[22:26]), ln[26].strip())
            per = sums.setdefault(key, OrderedDict())
            per[ln[16]] = per.get(ln[16], 0.0) + float(ln[54:60])
    chosen = {}
    for key, per in sums.items():
        best = None
        for alt, total in per.items():  # file order; strict '>' keeps the first of equal sums
            if best is None or total > per[best] + 1e-9:
                best = alt
        chosen[key] = best
    return chosen


def test_altloc_highest_occupancy_ties_to_first(structures_dir: Path) -> None:
    path = structures_dir / "1ejg.pdb"
    lines = _coord_lines(path)
    chosen = _altloc_reference(lines)
    assert chosen[("A", 39, "")] == "B"  # B 3.22 > A 1.50: not simply "first"
    assert chosen[("A", 2, "")] == "A"  # tie 5.0 / 5.0
    assert chosen[("A", 29, "")] == "A"  # three-way tie
    chain = read_chain(path)
    for i, rid in enumerate(chain.res_ids):
        alt = chosen.get(("A", int(rid), ""), " ")
        ca = [ln for ln in lines if int(ln[22:26]) == rid and ln[12:16] == " CA " and ln[16] in (alt, " ")]
        assert len(ca) == 1
        np.testing.assert_allclose(chain.coords[i, 1], _xyz(ca[0]), atol=1e-3)
        assert chain.res_names[i] == ca[0][17:20]
    # microheterogeneity: PRO (A, 6.21) beats SER (B, C) at 22; LEU (A, 6.72) beats ILE at 25
    assert chain.sequence[21] == "P" and chain.sequence[24] == "L"


def test_nmr_models_first_chosen_all(structures_dir: Path) -> None:
    path = structures_dir / "1lcd.pdb"
    first = read_structure(path)
    assert first.model == 1 and first.chains[0].model == 1
    second = read_structure(path, model=2)
    assert second.model == 2 and len(second.chains[0]) == len(first.chains[0])
    assert not np.allclose(first.chains[0].coords, second.chains[0].coords)
    models = read_structure(path, model="all")
    assert isinstance(models, list) and [m.model for m in models] == [1, 2, 3]
    np.testing.assert_array_equal(models[1].chains[0].coords, second.chains[0].coords)
    # model 2's first CA, from the text after the second MODEL record
    text = path.read_text().split("\nMODEL ")[2]
    ca = next(ln for ln in text.splitlines() if ln.startswith("ATOM") and ln[12:16] == " CA ")
    np.testing.assert_allclose(second.chains[0].coords[0, 1], _xyz(ca), atol=1e-3)
    with pytest.raises(errors.StructureModelNotFoundError, match="model 4 requested, file has 3"):
        read_structure(path, model=4)
    with pytest.raises(errors.StructureModelNotFoundError):
        read_structure(path, model=0)


def test_nucleic_acid_chains_skipped_and_reported(structures_dir: Path) -> None:
    cx = read_structure(structures_dir / "3mht.pdb")
    assert cx.chain_ids == ("A",)
    assert [(s.chain_id, s.reason) for s in cx.skipped] == [
        ("C", "nucleic acid (12 residues)"),
        ("D", "nucleic acid (13 residues)"),
    ]
    with pytest.raises(errors.ChainNotFoundError, match="nucleic-acid chain"):
        read_structure(structures_dir / "3mht.pdb", chains="C")


def test_waters_and_ligands_kept_out_of_chains(structures_dir: Path) -> None:
    path = structures_dir / "3mht.pdb"
    cx = read_structure(path)
    lines = _coord_lines(path)
    assert cx.waters == sum(ln[17:20] == "HOH" for ln in lines) == 70
    assert set(cx.ligands.res_name) == {"SAH"} and len(cx.ligands) == 26
    sah = next(ln for ln in lines if ln[17:20] == "SAH")
    np.testing.assert_allclose(cx.ligands.coord[0], _xyz(sah), atol=1e-3)
    assert "SAH" not in set(cx.chains[0].res_names)


def test_missing_backbone_atoms_kept_with_mask(structures_dir: Path) -> None:
    chain = read_structure(structures_dir / "2xhe.pdb.gz")["A"]
    last = len(chain) - 1
    assert chain.res_ids[last] == 617 and chain.res_names[last] == "ALA"
    np.testing.assert_array_equal(chain.atom_mask[last], [True, False, False, False])
    assert np.isnan(chain.coords[last, 1:]).all() and not np.isnan(chain.coords[last, 0]).any()
    assert chain.atom_mask[:last].all()


def test_chain_breaks_from_geometry(structures_dir: Path) -> None:
    chain = read_structure(structures_dir / "2xhe.pdb.gz")["A"]
    d = np.linalg.norm(chain.coords[1:, 0] - chain.coords[:-1, 2], axis=1)
    np.testing.assert_array_equal(chain.chain_breaks[1:], ~(d <= 2.0))
    (brk,) = np.nonzero(chain.chain_breaks)
    assert list(chain.res_ids[brk]) == [561]
    # a numbering gap (res_id jump) exists exactly where the geometry says so
    assert chain.res_ids[brk[0]] - chain.res_ids[brk[0] - 1] > 1


def test_insertion_codes(structures_dir: Path) -> None:
    chain = read_chain(structures_dir / "2n0n_model1.pdb")
    assert list(zip(chain.res_ids[8:10].tolist(), chain.ins_codes[8:10].tolist(), strict=True)) == [
        (9, ""),
        (9, "A"),
    ]
    assert chain.ins_codes.dtype == np.dtype("<U1")


def test_chain_selection_by_author_id(structures_dir: Path) -> None:
    path = structures_dir / "3o21.pdb.gz"
    assert read_structure(path, chains="C").chain_ids == ("C",)
    assert read_structure(path, chains="D,A").chain_ids == ("D", "A")
    assert read_structure(path, chains=["B"]).chain_ids == ("B",)
    assert read_chain(path, "B").auth_chain_id == "B"
    with pytest.raises(
        errors.ChainNotFoundError, match=r"no protein chain 'Z' \(protein chains: A, B, C, D\)"
    ):
        read_structure(path, chains="Z")
    with pytest.raises(errors.ChainNotFoundError, match="4 protein chains"):
        read_chain(path)


def test_large_hybrid36_entry(structures_dir: Path) -> None:
    path = structures_dir / "4v8r_h36.pdb.gz"
    lines = _coord_lines(path)
    assert len(lines) > 100_000 and any(not ln[6:11].strip().isdigit() for ln in lines)  # hybrid-36 serials
    cx = read_structure(path)
    n_res = len({(ln[20:22], ln[22:27]) for ln in lines if ln[12:16] == " CA " and ln[17:20] != " MG"})
    assert cx.num_residues == n_res == 16716
    last_ca = [ln for ln in lines if ln[20:22] == "Bz" and ln[12:16] == " CA "][-1]
    np.testing.assert_allclose(cx["Bz"].coords[-1, 1], _xyz(last_ca), atol=1e-3)


# --------------------------------------------------------------------------- sources other than paths
def test_bytes_and_file_objects(structures_dir: Path) -> None:
    path = structures_dir / "3o21.pdb.gz"
    ref = read_structure(path)
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode()
    variants = [
        read_structure(raw),
        read_structure(io.BytesIO(raw)),
        read_structure(io.StringIO(text)),
        read_structure(text.encode()),
        read_structure(str(path)),
    ]
    with open(path, "rb") as f:
        variants.append(read_structure(f))
    for cx in variants:
        assert cx.chain_ids == ref.chain_ids
        for a, b in zip(cx.chains, ref.chains, strict=True):
            np.testing.assert_array_equal(a.coords, b.coords)
    assert variants[0].source == "<bytes>"
    with pytest.raises(errors.EmptyStructureError, match="<bytes>: file is empty"):
        read_structure(b"")


def test_atom_array_and_stack_input(structures_dir: Path) -> None:
    f = biotite_pdb.PDBFile.read(str(structures_dir / "1lcd.pdb"))
    first = f.get_structure(model=1)
    shifted = first.copy()
    shifted.coord += 1.0
    stack = struc.stack([first, shifted, first])
    cx = read_structure(first)
    ref = read_structure(structures_dir / "1lcd.pdb")
    np.testing.assert_array_equal(cx.chains[0].coords, ref.chains[0].coords)
    assert np.isnan(cx.chains[0].b_factors).all()  # no b_factor annotation -> NaN, not 0
    assert read_structure(stack, model=3).model == 3
    np.testing.assert_allclose(read_structure(stack, model=2).chains[0].coords, ref.chains[0].coords + 1.0)
    assert len(read_structure(stack, model="all")) == 3
    with pytest.raises(errors.StructureModelNotFoundError, match="<AtomArrayStack>"):
        read_structure(stack, model=9)
    dna_only = first[np.isin(first.chain_id, ["B", "C"])]
    with pytest.raises(errors.NoProteinChainError, match="only nucleic acids"):
        read_structure(dna_only)


def test_forced_format(structures_dir: Path) -> None:
    cx = read_structure((structures_dir / "1ubi.pdb").read_bytes(), fmt="pdb")
    assert len(cx.chains[0]) == 76
    with pytest.raises(errors.CorruptStructureError, match="not a valid mmCIF"):
        read_structure(structures_dir / "1ubi.pdb", fmt="cif")
    with pytest.raises(errors.UnknownFormatError, match="unknown format 'xyz'"):
        read_structure(structures_dir / "1ubi.pdb", fmt="xyz")


# --------------------------------------------------------------------------- error paths
@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"   \n\n", errors.EmptyStructureError, "file is empty"),
        (b"\x00\x01\x02garbage", errors.UnknownFormatError, "binary content"),
        (b"hello world\n", errors.UnknownFormatError, "not a PDB, mmCIF or BinaryCIF"),
        (b"data_x\n_cell.length_a 1.0\n", errors.EmptyStructureError, "no atom_site"),
        (b"\x81\xa4junk\xc1\xc1", errors.CorruptStructureError, "not a valid BinaryCIF"),
        (b"\x1f\x8b\x08\x00garbage", errors.CorruptStructureError, "gzip"),
        (b"ATOM      1  CA  ALA A   1      1.000   2.000   3.0", errors.CorruptStructureError, "truncated"),
        (b"ATOM      1  CA  ALA A   1      1.000   2.000   3.000  1.00  0.00 C\nATOM      2  CA  ALA A   2"
         b"      x.000   2.000   3.000  1.00  0.00 C\n", errors.CorruptStructureError, "cannot read model"),
    ],
)  # fmt: skip
def test_bad_input_raises_named_error(data: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as info:
        read_structure(data)
    assert str(info.value).startswith("<bytes>: ") and reason in str(info.value)
    assert isinstance(info.value, errors.StructureError)


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(errors.StructureFileNotFoundError, match="does not exist"):
        read_structure(tmp_path / "nope.pdb")
    with pytest.raises(errors.UnknownFormatError, match="is a directory"):
        read_structure(tmp_path)
    with pytest.raises(errors.UnknownFormatError, match="unsupported source type"):
        read_structure(12345)


def test_truncated_mmcif_says_so_and_keeps_the_detail(structures_dir: Path, tmp_path: Path) -> None:
    cut = tmp_path / "1a8o_cut.cif"
    cut.write_bytes((structures_dir / "1a8o.cif").read_bytes()[:30_000])  # ends inside atom_site
    with pytest.raises(errors.CorruptStructureError) as info:
        read_structure(cut)
    message = str(info.value)
    assert message.startswith(f"{cut}: truncated or corrupt mmCIF (")
    assert "atom_site" in message  # the parser's detail follows


def test_text_file_named_gz_is_not_valid_gzip(structures_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "notes.pdb.gz"
    fake.write_bytes((structures_dir / "not_a_structure.pdb").read_bytes())
    with pytest.raises(errors.CorruptStructureError, match="not a valid gzip file"):
        read_structure(fake)
    plain = tmp_path / "1ubi.pdb.gz"  # an uncompressed structure under a .gz name is still read
    plain.write_bytes((structures_dir / "1ubi.pdb").read_bytes())
    assert len(read_structure(plain).chains[0]) == 76


def test_complex_is_frozen(structures_dir: Path) -> None:
    cx = read_structure(structures_dir / "1ubi.pdb")
    assert isinstance(cx, ProteinComplex)
    with pytest.raises(ValueError):
        cx.chains[0].coords[0, 0, 0] = 1.0


def test_non_ascii_header_text_is_fine(structures_dir: Path) -> None:
    data = (structures_dir / "1ubi.pdb").read_bytes()
    for header in ("AUTHOR    J. MÜLLER, É. DUPONT\n".encode(), "AUTHOR    J. M\xdcLLER\n".encode("latin-1")):
        cx = read_structure(header + data)
        assert len(cx.chains[0]) == 76


def _with_columns(path: Path, occupancy: str, b_factor: str) -> str:
    """The file's text with columns 55-60 (occupancy) and 61-66 (B-factor) of every coordinate record
    replaced (6 characters each)."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith(("ATOM", "HETATM")):
            line = line.ljust(80)
            line = line[:54] + occupancy + b_factor + line[66:]
        out.append(line.rstrip())
    return "\n".join(out) + "\n"


def test_blank_occupancy_and_b_factor_columns_read(structures_dir: Path, tmp_path: Path) -> None:
    """Blank occupancy/B-factor columns (written by many modelling tools) read as occupancy 1, B NaN."""
    ref = read_chain(structures_dir / "1ubi.pdb")
    blank = tmp_path / "1ubi_blank.pdb"
    blank.write_text(_with_columns(structures_dir / "1ubi.pdb", " " * 6, " " * 6))
    got = read_chain(blank)
    assert got.sequence == ref.sequence
    np.testing.assert_array_equal(got.atom_mask, ref.atom_mask)
    np.testing.assert_allclose(got.coords, ref.coords, equal_nan=True)
    assert np.isnan(got.b_factors).all() and np.isfinite(ref.b_factors).all()


def test_non_numeric_occupancy_is_corrupt(structures_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "1ubi_bad.pdb"
    bad.write_text(_with_columns(structures_dir / "1ubi.pdb", "  x.yz", "  0.00"))
    with pytest.raises(errors.CorruptStructureError, match="1ubi_bad.pdb"):
        read_chain(bad)
