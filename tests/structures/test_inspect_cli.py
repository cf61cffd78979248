"""``protok inspect``: readable summary, errors as a message and the documented exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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
    result = CliRunner().invoke(cli, ["inspect", path, "--structure-model", "all", "--json"])
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
        ([str(structures_dir / "1lcd.pdb"), "--structure-model", "5"], "model 5 requested"),
    ]:
        result = CliRunner().invoke(cli, ["inspect", *args])
        assert result.exit_code == 1
        assert reason in result.output and "Traceback" not in result.output
        assert result.output.startswith(f"Error: {args[0]}: ")
    result = CliRunner().invoke(cli, ["inspect", str(structures_dir / "1ubi.pdb"), "--structure-model", "x"])
    assert result.exit_code == 2 and "--structure-model" in result.output


def test_inspect_structure_model_option_is_named_as_in_tokenize(structures_dir: Path) -> None:
    """``--model`` names the tokenizer model in the other commands; here the model number is
    ``--structure-model``, as in ``protok tokenize``."""
    path = str(structures_dir / "1lcd.pdb")
    result = CliRunner().invoke(cli, ["inspect", path, "--structure-model", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["model"] == 2
    assert CliRunner().invoke(cli, ["inspect", path, "--model", "2"]).exit_code == 2


def test_missing_input_path_exits_2_in_every_command(structures_dir: Path, tmp_path: Path) -> None:
    missing = str(tmp_path / "nothing-here.pdb")
    for args in (["inspect", missing], ["tokenize", missing], ["decode", missing, "-o", str(tmp_path)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "nothing-here.pdb" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["info", "no-such-model"])
    assert result.exit_code == 2 and "no-such-model" in result.output


def test_unexpected_error_is_one_line_without_traceback(structures_dir: Path, monkeypatch, capsys) -> None:
    import sys

    import protok.structures
    from protok.cli.main import main

    def broken(*args, **kwargs):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(protok.structures, "read_structure", broken)
    monkeypatch.setattr(sys, "argv", ["protok", "inspect", str(structures_dir / "1ubi.pdb")])
    monkeypatch.delenv("PROTOK_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "RuntimeError: something unforeseen" in err and "Traceback" not in err
