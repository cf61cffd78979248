"""benchmarks/evaluate_model.py on committed structures with the shipped model: every measured target is in the
summary, and the numbers that must hold for any model do (idealized bonds exact, 3Di unmoved by a rigid
motion through a PDB file, more token changes under noise than under rounding)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import protok
from protok.structures import read_structure

FILES = ("1ubi.pdb", "1ejg.pdb", "1a8o.pdb")
#: What model cards, the release script and the results pages read from the summary.
CARD_KEYS = {"median", "mean", "chains", "residues", "codes_used", "codebook_size", "usage", "perplexity"}


@pytest.fixture(scope="module")
def script(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("evaluate_model")


@pytest.fixture(scope="module")
def result(script: ModuleType, structures_dir: Path) -> dict[str, Any]:
    chains = [read_structure(structures_dir / f).chains[0] for f in FILES]
    return script.evaluate(protok.load(), chains, [f.split(".")[0] for f in FILES], noise=0.1, seed=0)


def test_summary_holds_every_target(result: dict[str, Any]) -> None:
    s = result["summary"]
    assert CARD_KEYS <= set(s)
    assert s["median"] == s["reconstruction"]["idealized"]["median"]
    for form in ("idealized", "decoder_atoms"):
        assert set(s["reconstruction"][form]["median"]) == {"ca_rmsd", "bb_rmsd", "tm", "lddt_ca"}
    assert set(s["validity"]) == {"idealized", "decoder_atoms", "input"}
    for v in s["validity"].values():
        assert {"caca_ok", "clashes_per_residue", "peptide_ok"} <= set(v)
    assert s["robustness"]["noise"]["sigma"] == 0.1
    for kind in ("noise", "rotated_pdb"):
        assert {"model", "3di"} <= set(s["robustness"][kind])
    assert s["chains"] == 3 and s["residues"] == sum(r["length"] for r in result["chains"])
    json.dumps(result)  # plain JSON types only


def test_idealized_chain_is_bonded_and_native_chains_are_valid(result: dict[str, Any]) -> None:
    v = result["summary"]["validity"]
    assert v["idealized"]["caca_ok"] == 1.0 and v["idealized"]["peptide_ok"] == 1.0
    assert v["input"]["caca_ok"] > 0.97 and v["input"]["clashes"] == 0
    assert v["idealized"]["caca_bonds"] == v["decoder_atoms"]["caca_bonds"] == v["input"]["caca_bonds"]


def test_rotated_pdb_copy_changes_few_tokens(result: dict[str, Any]) -> None:
    rob = result["summary"]["robustness"]
    residues = result["summary"]["residues"]
    for who in ("model", "3di"):
        rotated = rob["rotated_pdb"][who]
        assert rotated["compared"] >= 0.95 * residues
        assert rotated["share"] <= 0.02, who
        assert rob["noise"][who]["changed"] > rotated["changed"], who


def test_summary_table_names_both_forms_and_3di(script: ModuleType, result: dict[str, Any]) -> None:
    text = script.format_summary(result["summary"])
    assert "decoder_atoms" in text and "idealized" in text and "3Di" in text and "rotated" in text


def test_agreement_with_a_reference_model(script: ModuleType, structures_dir: Path) -> None:
    chains = [read_structure(structures_dir / f).chains[0] for f in FILES]
    tok = protok.load()
    encoded = tok.encode_chains(chains)
    itself = script.agreement(encoded, tok, chains)
    assert itself["same"] == itself["compared"] > 0 and itself["share"] == 1.0
    other = script.agreement(encoded, protok.load("protok-provq-small-v1"), chains)
    assert other["compared"] == itself["compared"] and 0.0 <= other["share"] < 0.5
    summary = {**_summary_stub(), "agreement": {"reference": "v1", **other}}
    assert "same token as v1" in script.format_summary(summary)


def _summary_stub() -> dict[str, Any]:
    return {
        "chains": 0,
        "residues": 0,
        "reconstruction": {},
        "validity": {},
        "codes_used": 0,
        "codebook_size": 1,
        "usage": 0.0,
        "perplexity": 1.0,
        "robustness": {},
    }
