"""Regression: the shipped models give exactly their recorded tokens.

``tests/data/shipped_tokens.json`` holds the tokens of every chain of seven committed structures under
every shipped model (``protok-provq-small-v0``, ``-v1``, ``-v2``, ``-v2-fast``, ``-v2.1``, ``-v2.2``, ``-v2.3``,
``-v2.4``, ``-v2.4-fast``), as e3nn's generic tensor product and linears, the wide edge matrix and the quantizer's
full forward compute them. Faster code paths must keep them bit-identical: users' token
corpora stay valid across protok releases of the same model. ``tests/data/write_shipped_tokens.py`` records a
new model's entry (the tokenizer and the reference path must agree) and checks the recorded ones.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((REPO / "tests" / "data" / "shipped_tokens.json").read_text())["tokens"]


@pytest.mark.parametrize("model", sorted(GOLDEN))
def test_shipped_model_tokens_unchanged(model: str) -> None:
    from protok.models import available_models
    from protok.tokenizer import load

    if model not in available_models():
        pytest.skip(f"{model} is not installed")
    tok = load(model)
    for name, chains in GOLDEN[model].items():
        got = {r.chain_id: r.tokens.tolist() for r in tok.encode(REPO / "structures" / name)}
        assert sorted(got) == sorted(chains), name
        for chain_id, tokens in chains.items():
            assert got[chain_id] == tokens, f"{model} {name} chain {chain_id}"


def _writer():
    spec = importlib.util.spec_from_file_location(
        "write_shipped_tokens", REPO / "tests/data/write_shipped_tokens.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_writer_differences() -> None:
    writer = _writer()
    a = {"x.pdb": {"A": [1, 2, 3], "B": [4]}}
    assert writer.differences(a, a) == []
    assert writer.differences(a, {"x.pdb": {"A": [1, 9, 3], "B": [4]}}) == ["x.pdb A: residue 1"]
    assert writer.differences(a, {"x.pdb": {"A": [1, 2, 3]}}) == [
        "x.pdb B: chain missing or of another length"
    ]


def test_writer_check_of_the_default_model(capsys: pytest.CaptureFixture[str]) -> None:
    """The default's recorded tokens, its tokenizer's and the e3nn reference path's agree (``--check``)."""
    from protok.models import registry

    assert _writer().main(["--check", registry.DEFAULT_MODEL]) == 0
    assert capsys.readouterr().out.strip() == f"{registry.DEFAULT_MODEL}: 2963 tokens match"


def test_writer_records_an_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Recording the default again, into a copy without its entry, gives back exactly the committed entry."""
    from protok.models import registry

    writer = _writer()
    saved = json.loads(writer.GOLDEN_PATH.read_text())
    copy = dict(saved, tokens={k: v for k, v in saved["tokens"].items() if k != registry.DEFAULT_MODEL})
    writer.GOLDEN_PATH = tmp_path / "shipped_tokens.json"
    writer.GOLDEN_PATH.write_text(json.dumps(copy))
    assert writer.main([registry.DEFAULT_MODEL]) == 0
    assert json.loads(writer.GOLDEN_PATH.read_text())["tokens"] == saved["tokens"]
    assert capsys.readouterr().out.strip() == f"{registry.DEFAULT_MODEL}: 2963 tokens recorded"
