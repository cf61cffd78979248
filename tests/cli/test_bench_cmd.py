"""`protok bench` command line: default tokenizers, registered model names, stage lines, exit statuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import protok.bench
from protok.cli.main import cli


@pytest.fixture()
def fake_run(monkeypatch):
    """Replace the long benchmark run by one that records what it was given and reports two stages."""
    calls: list[dict] = []

    def run_bench(adapters, suite, out_dir, **kwargs):
        calls.append({"adapters": adapters, "suite": suite, **kwargs})
        kwargs["progress"]("stage one")
        kwargs["progress"]("stage two")

    monkeypatch.setattr(protok.bench, "run_bench", run_bench)
    return calls


def test_default_tokenizers_include_the_shipped_model(fake_run, tmp_path: Path):
    from protok.models.registry import DEFAULT_MODEL

    res = CliRunner().invoke(cli, ["bench", "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    (call,) = fake_run
    assert [a.name for a in call["adapters"]] == [DEFAULT_MODEL, "3di", "dssp", "random", "aa"]
    # stage lines on stderr without -v
    assert res.stderr.splitlines() == [
        f"protok bench: tokenizers: {DEFAULT_MODEL}, 3di, dssp, random, aa",
        "protok bench: stage one",
        "protok bench: stage two",
    ]


def test_registered_name_as_tokenizer_model(fake_run, tmp_path: Path):
    res = CliRunner().invoke(
        cli, ["bench", "--tokenizers", "provq=protok-provq-small-v1,aa", "-o", str(tmp_path / "out")]
    )
    assert res.exit_code == 0, res.output
    assert [a.name for a in fake_run[0]["adapters"]] == ["provq", "aa"]


def test_unknown_model_and_missing_data_exit_2(tmp_path: Path):
    res = CliRunner().invoke(cli, ["bench", "--tokenizers", "provq=no-such-model", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "no-such-model" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(
        cli,
        ["bench", "--tokenizers", "aa", "--data-dir", str(tmp_path / "nothing"), "-o", str(tmp_path / "o")],
    )
    assert res.exit_code == 2 and "benchmark input missing" in res.output and "Traceback" not in res.output
