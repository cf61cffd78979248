"""Round trip with the shipped default model: tokenize then decode held-out chains at the card's accuracy.

Skips while no trained model is installed (``protok.models.available_models()``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
STRUCTURES = REPO / "structures"


def _find_number(card: Any, keys: tuple[str, ...]) -> float | None:
    if isinstance(card, dict):
        for k, v in card.items():
            if k in keys and isinstance(v, (int, float)):
                return float(v)
            found = _find_number(v, keys)
            if found is not None:
                return found
    return None


@pytest.fixture(scope="module")
def shipped():
    from protok.models import DEFAULT_MODEL, available_models

    if DEFAULT_MODEL not in available_models():
        pytest.skip(f"shipped model {DEFAULT_MODEL} is not installed yet")
    import protok.tokenizer as T

    return T.load()


def test_cli_round_trip_matches_card_accuracy(shipped, tmp_path):
    from protok.cli.main import cli
    from protok.metrics import ca_rmsd
    from protok.structures import read_structure

    card_rmsd = _find_number(shipped.card, ("ca_rmsd", "test_ca_rmsd", "ca_rmsd_test"))
    if card_rmsd is None:
        pytest.skip("the model card reports no CA RMSD")
    out = tmp_path / "t.jsonl"
    # 1ubi and 2xhe are not ProMod3 training chains (committed test files)
    files = [str(STRUCTURES / "1ubi.pdb"), str(STRUCTURES / "2xhe.pdb.gz")]
    res = CliRunner().invoke(
        cli, ["tokenize", *files, "-o", str(out), "--no-progress"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["decode", str(out), "-o", str(tmp_path / "dec")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rmsds = []
    for line in out.read_text().splitlines():
        rec = json.loads(line)
        src = read_structure(rec["source"], chains=rec["chain"]).chains[0]
        dec = read_structure(tmp_path / "dec" / f"{rec['id']}_{rec['chain']}.pdb").chains[0]
        keep = src.backbone_complete
        rmsds.append(float(ca_rmsd(dec.coords, src.coords[keep])))
    # the card's number is a test-set mean; allow 50 % slack on two chains
    assert np.mean(rmsds) <= 1.5 * card_rmsd, rmsds
