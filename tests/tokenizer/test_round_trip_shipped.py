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


def test_cli_round_trip_matches_card_accuracy(shipped, promod3_npz, tmp_path):
    """The command-line round trip (PDB files -> ``protok tokenize`` -> ``protok decode`` -> PDB files) on the
    first 24 of the card's held-out chains reaches the card's median CA-RMSD (50 % slack: a median of 24)."""
    from protok.cli.main import cli
    from protok.metrics import ca_rmsd
    from protok.structures import read_structure, write_structure
    from protok.training import load_config
    from protok.training.data import load_training_data

    card_rmsd = _find_number(shipped.card, ("ca_rmsd", "test_ca_rmsd", "ca_rmsd_test"))
    if card_rmsd is None:
        pytest.skip("the model card reports no CA RMSD")
    # the card's chains: the split of the model's training config, first chains by id (as evaluated)
    cfg = load_config(REPO / "configs" / "provq_small_v2.toml", [f'data.promod3="{promod3_npz}"']).data
    data = load_training_data(cfg)
    val = sorted(data.val.tolist(), key=lambda i: data.store.ids[i])[:24]
    files = []
    for i in val:
        path = tmp_path / "in" / f"{data.store.ids[i]}.pdb"
        path.parent.mkdir(exist_ok=True)
        write_structure(data.store.get(i), path)
        files.append(str(path))
    out = tmp_path / "t.jsonl"
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
    assert len(rmsds) == 24
    assert np.median(rmsds) <= 1.5 * card_rmsd, rmsds
