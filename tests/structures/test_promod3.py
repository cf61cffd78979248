"""The shared ProMod3 archive loader (skipped when ../shared/data is absent)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from protok import errors
from protok.structures import Promod3Chains


@pytest.fixture(scope="module")
def db(promod3_npz: Path) -> Promod3Chains:
    return Promod3Chains(promod3_npz)


def test_sizes_match_readme(db: Promod3Chains) -> None:
    assert len(db) == 19586
    assert int(db.lengths.sum()) == 4234169
    assert db.ids[0] == "16PK_A" and db.index("16PK_A") == 0


def _head(path: Path, key: str, rows: int) -> np.ndarray:
    """The first ``rows`` rows of one array in the .npz, read straight from the zip stream (independent of
    the loader, and without decompressing the whole 140 MB)."""
    with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(f)
        assert not fortran
        inner = int(np.prod(shape[1:]))
        data = f.read(rows * inner * dtype.itemsize)
        return np.frombuffer(data, dtype=dtype).reshape((rows, *shape[1:]))


def test_chain_decoding_matches_readme_formula(db: Promod3Chains, promod3_npz: Path) -> None:
    i = db.index("16PK_A")
    assert i == 0  # first chain: its residues are the first rows of every array
    chain = db.chain(i)
    n = int(_head(promod3_npz, "length", 1)[0])
    ca = _head(promod3_npz, "ca_milliA", n).astype(np.float64)
    nco = ca[:, None, :] + _head(promod3_npz, "nco_minus_ca_milliA", n)
    xyz = np.stack([nco[:, 0], ca, nco[:, 1], nco[:, 2]], axis=1) / 1000.0
    np.testing.assert_array_equal(chain.coords, xyz.astype(np.float32))  # bit-equal, not just close
    assert chain.sequence == _head(promod3_npz, "seq", n).tobytes().decode()
    assert db.sequence(i) == chain.sequence
    assert chain.source == "promod3:16PK_A" and chain.auth_chain_id == chain.label_chain_id == "A"
    start = int(_head(promod3_npz, "start_resnum", 1)[0])
    np.testing.assert_array_equal(chain.res_ids, np.arange(start, start + n))  # deposited numbering
    assert len(chain) == n
    assert db.dssp(i) == _head(promod3_npz, "dssp", n).tobytes().decode()
    np.testing.assert_array_equal(db.sasa(i), _head(promod3_npz, "sasa", n))
    np.testing.assert_array_equal(db.depth(i), _head(promod3_npz, "depth", n))


def test_float32_decoding_is_the_readme_formula_rounded_once(db: Promod3Chains, promod3_npz: Path) -> None:
    # exact integer sums and one correctly rounded division: the same bits as float64 then float32
    with np.load(promod3_npz) as d:
        ca_all, nco_all = d["ca_milliA"], d["nco_minus_ca_milliA"]
    starts = np.concatenate([[0], np.cumsum(db.lengths)])
    for i in np.linspace(0, len(db) - 1, 300).astype(int):
        s = slice(int(starts[i]), int(starts[i + 1]))
        ca = ca_all[s].astype(np.float64)
        nco = ca[:, None, :] + nco_all[s]
        ref = (np.stack([nco[:, 0], ca, nco[:, 1], nco[:, 2]], axis=1) / 1000.0).astype(np.float32)
        got = db.coords(int(i))
        assert got.dtype == np.float32
        assert np.array_equal(got.view(np.uint32), ref.view(np.uint32)), db.ids[i]


def test_ids_membership_and_chain_ids(db: Promod3Chains) -> None:
    assert "16PK_A" in db and "XXXX_Z" not in db
    for i in range(0, len(db), 1999):
        pdb_id, chain_id = str(db.ids[i]).split("_", 1)
        c = db.chain(i)
        assert c.auth_chain_id == chain_id and c.source == f"promod3:{pdb_id}_{chain_id}"


def test_last_chain_and_bounds(db: Promod3Chains) -> None:
    last = db.chain(len(db) - 1)
    assert len(last) == db.lengths[-1] and last.source == f"promod3:{db.ids[-1]}"
    assert db.chain(-1).source == last.source
    with pytest.raises(IndexError):
        db.chain(len(db))
    with pytest.raises(KeyError, match="no chain"):
        db.index("XXXX_Z")


def test_chains_are_continuous_backbones(db: Promod3Chains) -> None:
    # the README says each chain is one gap-free segment: peptide bonds everywhere
    for i in range(0, len(db), 997):
        c = db.chain(i)
        assert not c.chain_breaks.any(), c.source
        d = np.linalg.norm(c.coords[:, 1] - c.coords[:, 0], axis=1)
        assert 1.3 < d.min() and d.max() < 1.6  # N-CA bond


def test_bad_archive(tmp_path: Path) -> None:
    with pytest.raises(errors.EmptyStructureError, match="does not exist"):
        Promod3Chains(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(errors.CorruptStructureError, match="bad.npz"):
        Promod3Chains(bad)


def test_missing_annotation_array_is_named(promod3_npz: Path, tmp_path: Path) -> None:
    with np.load(promod3_npz) as d:
        n = int(d["length"][0])
        keep = {k: d[k][:1] for k in ("id", "length", "start_resnum")}
        keep |= {k: d[k][:n] for k in ("seq", "ca_milliA", "nco_minus_ca_milliA")}
    path = tmp_path / "no_dssp.npz"
    np.savez(path, **keep)
    db = Promod3Chains(path)
    assert len(db.chain(0)) == n
    with pytest.raises(errors.CorruptStructureError, match="no_dssp.npz.*'dssp'"):
        db.dssp(0)
