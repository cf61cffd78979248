"""Residue classification and parent mapping through biotite's CCD."""

from __future__ import annotations

import subprocess
import sys

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


def test_canonical_and_water_names_need_no_ccd() -> None:
    """Structures of canonical amino acids and water are classified without loading the CCD (0.3 s)."""
    code = (
        "import numpy as np\n"
        "from protok.structures import residues as r\n"
        "amino, nuc, water, letters = r.residue_classes(np.array(['ALA', 'TRP', 'HOH', 'DOD', 'GLY']))\n"
        "assert amino.tolist() == [True, True, False, False, True]\n"
        "assert water.tolist() == [False, False, True, True, False] and not nuc.any()\n"
        "assert ''.join(letters) == 'AWXXG'\n"
        "assert r._amino_acid_names.cache_info().misses == 0\n"
        "assert r._nucleotide_names.cache_info().misses == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
