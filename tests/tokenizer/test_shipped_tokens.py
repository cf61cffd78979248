"""Regression: the shipped models give exactly their recorded tokens.

``tests/data/shipped_tokens.json`` holds the tokens of every chain of seven committed structures under
every shipped model (``protok-provq-small-v0``, ``-v1``, ``-v2``, ``-v2-fast``, ``-v2.1``, ``-v2.2``, ``-v2.3``,
``-v2.4``, ``-v2.4-fast``), as e3nn's generic tensor product and linears, the wide edge matrix and the quantizer's
full forward compute them. Faster code paths must keep them bit-identical: users' token
corpora stay valid across protok releases of the same model.
"""

from __future__ import annotations

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
