"""Residue classification and parent mapping through biotite's CCD."""

from __future__ import annotations

import numpy as np
import pytest

from protok.structures.residues import one_letter, residue_classes


@pytest.mark.parametrize(
    ("name", "letter"),
    [("ALA", "A"), ("MSE", "M"), ("SEP", "S"), ("TPO", "T"), ("PTR", "Y"), ("HYP", "P"), ("CSO", "C"),
     ("MLY", "K"), ("UNK", "X"), ("HOH", "X")],
)  # fmt: skip
def test_one_letter_parent(name: str, letter: str) -> None:
    assert one_letter(name) == letter


def test_residue_classes() -> None:
    amino, nuc, water, letters = residue_classes(np.array(["ALA", "MSE", "DA", "U", "HOH", "SAH", "SEP"]))
    assert amino.tolist() == [True, True, False, False, False, False, True]
    assert nuc.tolist() == [False, False, True, True, False, False, False]
    assert water.tolist() == [False, False, False, False, True, False, False]
    assert "".join(letters) == "AMXXXXS"
