"""`protok decode` through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from protok.cli.main import cli

STRUCTURES = Path(__file__).resolve().parents[2] / "structures"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_decode_round_trip_files(model_dir, tok, tmp_path):
    from protok.structures import read_structure

    out = tmp_path / "t.jsonl"
    assert _run("tokenize", str(STRUCTURES / "2xhe.pdb.gz"), "-o", str(out), "--model", str(model_dir),
                "--no-progress").exit_code == 0  # fmt: skip
    for fmt in ("pdb", "cif"):
        res = _run("decode", str(out), "-o", str(tmp_path / fmt), "--model", str(model_dir), "--format", fmt)
        assert res.exit_code == 0, res.output
        files = sorted(p.name for p in (tmp_path / fmt).iterdir())
        assert files == [f"2xhe_A.{fmt}", f"2xhe_B.{fmt}"]
    back = read_structure(tmp_path / "pdb" / "2xhe_A.pdb").chains[0]
    rec = json.loads(out.read_text().splitlines()[0])
    direct = tok.decode(tok.encode(STRUCTURES / "2xhe.pdb.gz", chains="A")[0])
    # the residue without a backbone (A617) is absent from the decoded file, everything else matches
    assert len(back) == rec["length"] - 1
    keep = direct.atom_mask.all(1)
    np.testing.assert_allclose(back.coords, direct.coords[keep], atol=2e-3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "chain": "A", "tokens": [1, 99999]}\n' + out.read_text())
    res = _run("decode", str(bad), "-o", str(tmp_path / "bad"), "--model", str(model_dir), "--no-progress")
    assert res.exit_code == 1 and "outside the vocabulary" in res.output
    assert "3 records: wrote 2 files, 1 failed" in res.stderr and "bad.errors.tsv" in res.stderr
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == ["2xhe_A.pdb", "2xhe_B.pdb"]


def test_decode_two_character_chain_ids_progress_and_title(model_dir, tmp_path):
    out = tmp_path / "t.jsonl"
    res = _run("tokenize", str(STRUCTURES / "4v8r_h36.pdb.gz"), "--chains", "AA,Bz", "-o", str(out),
               "--model", str(model_dir), "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["decode", str(out), "-o", str(tmp_path / "d"), "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["4v8r_h36_AA.cif", "4v8r_h36_Bz.cif"]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("protok decode: 2 records: wrote 2 files (2 as mmCIF because they do not fit")
    assert "decode: 100%" in res.stderr  # the progress bar, as tokenize shows one
    text = (tmp_path / "d" / "4v8r_h36_AA.cif").read_text()
    assert "decoded from structure tokens by protok model" in text and "geometry idealized" in text
    res = _run("decode", str(out), "-o", str(tmp_path / "raw"), "--model", str(model_dir), "--no-idealize")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "raw" / "4v8r_h36_AA.cif").read_text()
    assert "decoded from structure tokens by protok model" in text and "idealized" not in text
