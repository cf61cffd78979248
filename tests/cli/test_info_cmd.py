"""`protok info` through click's test runner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from protok.cli.main import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_info_prints_readable_card_vocabularies_and_json(model_dir):
    res = _run("info", str(model_dir))
    assert res.exit_code == 0, res.output
    out = res.output
    assert "codes 0..511" in out and "CHAINBREAK" in out and "516" in out
    assert "random init" in out
    assert "{" not in out  # nested card entries are indented lines, not JSON
    pair_part = out[out.index("pair special tokens:") :]
    assert "PAD          10776" in pair_part and "BOS          10775" in pair_part
    js = json.loads(_run("info", str(model_dir), "--json").output)
    assert js["vocabulary"]["special_tokens"]["MASK"]["id"] == 512
    assert js["pair_vocabulary"]["special_tokens"]["PAD"]["id"] == 21 * 513 + 3
    assert js["pair_vocabulary"]["pairs"] == [0, 21 * 513 - 1]


def test_info_of_shipped_model_is_text_and_json_by_name():
    from protok.models.registry import DEFAULT_MODEL

    res = _run("info")
    assert res.exit_code == 0 and res.output.startswith(f"model: {DEFAULT_MODEL}\n")
    assert "\n  evaluation:\n" in res.output and "\n    median:\n      ca_rmsd: " in res.output
    js = json.loads(_run("info", DEFAULT_MODEL, "--json").output)
    assert js["card"]["name"] == DEFAULT_MODEL


def test_info_unknown_model_exits_2():
    res = CliRunner().invoke(cli, ["info", "no-such-model"])
    assert res.exit_code == 2 and "no-such-model" in res.output and "Traceback" not in res.output
