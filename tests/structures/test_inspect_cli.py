"""``protok inspect``: readable summary, errors as a message and exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from protok.cli.main import cli


def test_inspect_summary(structures_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(structures_dir / "2xhe.pdb.gz")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "chain A: 567 residues HIS0..ALA617" in out and "chain B: 220 residues" in out
    assert "breaks: 1 (GLU561)" in out
    assert "missing backbone atoms: 1 residue(s) (ALA617 [CA C O])" in out


def test_inspect_skipped_ligands_modified(structures_dir: Path) -> None:
    out = CliRunner().invoke(cli, ["inspect", str(structures_dir / "3mht.pdb")]).output
    assert "ligands: SAH (26 atoms)" in out and "C: nucleic acid (12 residues)" in out
    out = CliRunner().invoke(cli, ["inspect", str(structures_dir / "1a8o.pdb")]).output
    assert "modified residues: MSE x4" in out


def test_inspect_options_and_json(structures_dir: Path) -> None:
    path = str(structures_dir / "1lcd.pdb")
    result = CliRunner().invoke(cli, ["inspect", path, "--model", "all", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [d["model"] for d in data] == [1, 2, 3]
    result = CliRunner().invoke(
        cli, ["inspect", str(structures_dir / "3o21.pdb.gz"), "--chains", "B,D", "--json"]
    )
    assert [c["auth_chain_id"] for c in json.loads(result.output)["chains"]] == ["B", "D"]


def test_inspect_errors_exit_1_without_traceback(structures_dir: Path) -> None:
    for args, reason in [
        ([str(structures_dir / "1ubi_truncated.pdb")], "truncated coordinate record"),
        ([str(structures_dir / "empty.pdb")], "file is empty"),
        ([str(structures_dir / "1ubi.pdb"), "--chains", "Q"], "no protein chain 'Q'"),
        ([str(structures_dir / "1lcd.pdb"), "--model", "5"], "model 5 requested"),
    ]:
        result = CliRunner().invoke(cli, ["inspect", *args])
        assert result.exit_code == 1
        assert reason in result.output and "Traceback" not in result.output
        assert result.output.startswith("error: ")
    result = CliRunner().invoke(cli, ["inspect", str(structures_dir / "1ubi.pdb"), "--model", "x"])
    assert result.exit_code == 2 and "--model" in result.output
