"""The column PDB reader: exactly biotite's result (every annotation, dtype, bit-equal coordinates, box) on the
shipped files, real ProMod3 chains and edge cases made from real file text - or None, and then biotite."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from biotite.structure import AtomArray

from protok import errors
from protok.structures import Promod3Chains, formats, read_structure, write_structure
from protok.structures.formats import RawStructure, load_atoms, read_source
from protok.structures.pdbcolumns import index_pdb

# Shipped PDB files the column reader must take (every model) ...
FAST = {
    "1a8o.pdb", "1ejg.pdb", "1lcd.pdb", "1ubi.pdb", "2n0n_model1.pdb", "3mht.pdb", "af2_6kwc_model1.pdb",
    "ions.pdb", "2xhe.pdb.gz", "3o21.pdb.gz", "4v8r_h36.pdb.gz",
}  # fmt: skip
# ... the ones it leaves to biotite, and why ...
FALLBACK = {
    "1ubi_truncated.pdb": "last coordinate record cut after 30 columns (< 54): biotite's path raises",
    "header_only.pdb": "no coordinate records: biotite's path raises EmptyStructureError",
}
# ... and the ones that never get that far (read_source raises).
NOT_PDB = {"empty.pdb", "not_a_structure.pdb"}


def _biotite(raw: RawStructure, model: int | str = "all") -> list[tuple[int, AtomArray]]:
    """load_atoms through biotite alone (the column reader switched off)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(formats, "index_pdb", lambda data: None)
        return load_atoms(raw, model)  # type: ignore[arg-type]


def _fast(raw: RawStructure, model: int | str = "all") -> list[tuple[int, AtomArray]] | None:
    return formats._load_pdb_columns(raw, model)  # type: ignore[arg-type]


def assert_same_atoms(fast: AtomArray, ref: AtomArray) -> None:
    """Equal annotations (names, order, dtypes, values; floats bit-equal), float32 coordinates bit-equal, box."""
    assert fast.get_annotation_categories() == ref.get_annotation_categories()
    for name in ref.get_annotation_categories():
        a, b = fast.get_annotation(name), ref.get_annotation(name)
        assert a.dtype == b.dtype, name
        if a.dtype.kind == "f":
            assert np.array_equal(a.view(np.int64), b.view(np.int64)), name
        else:
            assert np.array_equal(a, b), name
    assert fast.coord.dtype == ref.coord.dtype == np.float32
    assert np.array_equal(fast.coord.view(np.int32), ref.coord.view(np.int32))
    if ref.box is None:
        assert fast.box is None
    else:
        assert fast.box is not None and fast.box.dtype == ref.box.dtype
        assert np.array_equal(fast.box, ref.box)


def assert_same_models(fast: list[tuple[int, AtomArray]] | None, ref: list[tuple[int, AtomArray]]) -> None:
    assert fast is not None
    assert [m for m, _ in fast] == [m for m, _ in ref]
    for (_, a), (_, b) in zip(fast, ref, strict=True):
        assert_same_atoms(a, b)


def _raw(text: str | bytes, name: str = "<edge>") -> RawStructure:
    return RawStructure(text.encode() if isinstance(text, str) else text, name, "pdb")


def _text(structures_dir: Path, name: str) -> str:
    path = structures_dir / name
    data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    return data.decode()


def _is_coord(line: str) -> bool:
    return line.startswith(("ATOM", "HETATM"))


# --------------------------------------------------------------------------- shipped files
def test_every_shipped_pdb_file_is_classified(structures_dir: Path) -> None:
    shipped = {p.name for p in structures_dir.iterdir() if p.name.endswith((".pdb", ".pdb.gz"))}
    assert shipped == FAST | set(FALLBACK) | NOT_PDB


@pytest.mark.parametrize("name", sorted(FAST | set(FALLBACK)))
def test_shipped_file_matches_biotite_or_falls_back(structures_dir: Path, name: str) -> None:
    raw = read_source(structures_dir / name)
    columns = index_pdb(raw.data)
    fast = _fast(raw)
    if name in FALLBACK:
        assert columns is None and fast is None
        return
    assert columns is not None
    assert columns.wide_chain_ids == formats._has_wide_chain_ids(raw.data)
    assert_same_models(fast, _biotite(raw))


def test_shipped_files_cover_the_features(structures_dir: Path) -> None:
    """The fast path really sees altlocs, insertion codes, HETATM, wide chain ids, models and boxes."""

    def atoms(name: str, model: int | str = 1) -> list[tuple[int, AtomArray]]:
        out = _fast(read_source(structures_dir / name), model)
        assert out is not None
        return out

    assert set(atoms("1ejg.pdb")[0][1].altloc_id) >= {" ", "A", "B"}
    assert "A" in set(atoms("2n0n_model1.pdb")[0][1].ins_code)
    assert atoms("1a8o.pdb")[0][1].hetero.any()
    assert {"AA", "Bz"} <= set(atoms("4v8r_h36.pdb.gz")[0][1].chain_id)
    assert [m for m, _ in atoms("1lcd.pdb", "all")] == [1, 2, 3]
    assert atoms("1ubi.pdb")[0][1].box is not None
    assert atoms("af2_6kwc_model1.pdb")[0][1].box is None  # no CRYST1


def _read_all(path: Path) -> Any:
    try:
        return read_structure(path, model="all")
    except errors.StructureError as exc:  # ions.pdb: no protein chain
        return exc


@pytest.mark.parametrize("name", sorted(FAST))
def test_read_structure_is_the_same_either_way(structures_dir: Path, name: str) -> None:
    fast = _read_all(structures_dir / name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(formats, "index_pdb", lambda data: None)
        ref = _read_all(structures_dir / name)
    if isinstance(ref, Exception):
        assert type(fast) is type(ref) and str(fast) == str(ref)
        return
    assert len(fast) == len(ref)
    for a, b in zip(fast, ref, strict=True):
        _assert_same_value(a, b)


def _assert_same_value(a: Any, b: Any) -> None:
    """Field-by-field equality of protok's frozen types (arrays bit-equal, NaN included)."""
    assert type(a) is type(b)
    if isinstance(a, AtomArray):
        assert_same_atoms(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _assert_same_value(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same_value(x, y)
    else:
        assert a == b


# --------------------------------------------------------------------------- real ProMod3 chains
def test_promod3_chains_match_biotite(promod3_npz: Path, tmp_path: Path) -> None:
    db = Promod3Chains(promod3_npz)
    for i in np.linspace(0, len(db) - 1, 100).astype(int):
        path = write_structure(db.chain(int(i)), tmp_path / f"{db.ids[i]}.pdb")
        raw = read_source(path)
        assert_same_models(_fast(raw), _biotite(raw))


# --------------------------------------------------------------------------- edge cases from real text
def _edit(text: str, fn: Any, every: int = 1) -> str:
    """``text`` with ``fn(line)`` applied to every ``every``-th coordinate record."""
    out, n = [], 0
    for line in text.splitlines():
        if _is_coord(line):
            if n % every == 0:
                line = fn(line)
            n += 1
        out.append(line)
    return "\n".join(out) + "\n"


def _field(line: str, start: int, stop: int, value: str) -> str:
    return line[:start] + value.rjust(stop - start) + line[stop:]


EDITS = {
    "negative residue numbers": lambda ln: _field(ln, 22, 26, str(int(ln[22:26]) - 40)),
    "negative zero and zero coordinates": lambda ln: _field(_field(ln, 30, 38, "-0.000"), 38, 46, "0.000"),
    "no leading digit": lambda ln: _field(ln, 46, 54, "-.500"),
    "two-decimal coordinates": lambda ln: _field(ln, 30, 38, f"{float(ln[30:38]):.2f}"),
    "trailing spaces stripped": lambda ln: ln.rstrip(),
    "77-column records, element left-aligned": lambda ln: ln[:76] + ln[76:78].strip()[:1],
    "no CRYST1": None,
    "invalid CRYST1": None,
    "non-ASCII header": None,
    "record before the first MODEL, models of different sizes": None,
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_edge_case_takes_the_fast_path_and_matches(structures_dir: Path, case: str) -> None:
    base = "1lcd.pdb" if "MODEL" in case else "1ubi.pdb"
    text = _text(structures_dir, base)
    fn = EDITS[case]
    if fn is not None:
        text = _edit(
            text, fn, every=3 if case in ("negative zero and zero coordinates", "no leading digit") else 1
        )
    elif case == "no CRYST1":
        text = "".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("CRYST1"))
    elif case == "invalid CRYST1":
        text = text.replace("CRYST1   50.840", "CRYST1   xx.840")
    elif case == "non-ASCII header":
        text = "REMARK   1 AUTHOR JOSÉ ÅNGSTRÖM\n" + text
    else:
        lines = text.splitlines()
        first = next(i for i, ln in enumerate(lines) if ln.startswith("MODEL"))
        second = next(i for i, ln in enumerate(lines) if ln.startswith("MODEL") and i > first)
        atom = next(ln for ln in lines[second:] if ln.startswith("ATOM"))
        lines.remove(atom)  # model 2 one atom short
        lines.insert(first, lines[first + 1].replace("ATOM  ", "HETATM"))  # in no model
        text = "\n".join(lines) + "\n"
    raw = _raw(text)
    ref = _biotite(raw)
    assert_same_models(_fast(raw), ref)
    if case == "negative residue numbers":
        assert ref[0][1].res_id.min() < 0
    if case == "invalid CRYST1" or case == "no CRYST1":
        assert ref[0][1].box is None
    if "MODEL" in case:  # 1lcd's models differ in size already; the record before MODEL 1 is in none
        assert len({a.array_length() for _, a in ref}) > 1
        assert sum(a.array_length() for _, a in ref) == sum(map(_is_coord, text.splitlines())) - 1


FALLBACKS = {
    "truncated last record": lambda t: t[: t.rindex("ATOM") + 45],
    "CRLF line endings": lambda t: t.replace("\n", "\r\n"),
    "form feed": lambda t: t.replace("\nTER", "\n\fTER", 1),
    "no element column": lambda t: _edit(t, lambda ln: ln[:66]),
    "blank occupancy": lambda t: _edit(t, lambda ln: _field(ln, 54, 60, ""), every=50),
    "hybrid-36 residue number": lambda t: _edit(t, lambda ln: _field(ln, 22, 26, "A000"), every=50),
    "plus sign": lambda t: _edit(t, lambda ln: _field(ln, 30, 38, "+" + ln[30:38].strip()), every=50),
    "exponent": lambda t: _edit(t, lambda ln: _field(ln, 30, 38, "1.5e1"), every=50),
    "decimals differ between records": lambda t: _edit(
        t, lambda ln: _field(ln, 30, 38, f"{float(ln[30:38]):.2f}"), every=50
    ),
    "left-aligned number": lambda t: _edit(
        t, lambda ln: ln[:60] + ln[60:66].strip().ljust(6) + ln[66:], every=50
    ),
    "tab in a record": lambda t: _edit(t, lambda ln: ln[:27] + "\t" + ln[28:], every=50),
    "non-ASCII in a record": lambda t: _edit(t, lambda ln: ln[:72] + "é" + ln[73:], every=50),
}


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_edge_case_falls_back_to_biotite(structures_dir: Path, case: str) -> None:
    text = FALLBACKS[case](_text(structures_dir, "1ubi.pdb"))
    raw = _raw(text)
    assert _fast(raw) is None
    if case == "truncated last record":
        with pytest.raises(errors.CorruptStructureError, match="truncated coordinate record"):
            read_structure(text.encode())
        return
    ref = load_atoms(raw, "all")  # the biotite path, with its repairs and guesses
    if case == "CRLF line endings":
        assert_same_models(_fast(_raw(text.replace("\r\n", "\n"))), ref)


def test_model_numbers_and_errors_match(structures_dir: Path) -> None:
    raw = read_source(structures_dir / "1lcd.pdb")
    assert_same_models(_fast(raw, 2), _biotite(raw, 2))
    for bad in (0, 4, True, "2"):
        with pytest.raises(errors.StructureModelNotFoundError) as fast_err:
            load_atoms(raw, bad)  # type: ignore[arg-type]
        with pytest.raises(errors.StructureModelNotFoundError) as ref_err:
            _biotite(raw, bad)
        assert str(fast_err.value) == str(ref_err.value)
