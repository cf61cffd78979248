"""Residue-name classification through biotite's copy of the PDB Chemical Component Dictionary (CCD).

Modified amino acids (``MSE``, ``SEP``, ...) get the one-letter code of their parent amino acid from the CCD
(``_chem_comp.one_letter_code``, falling back to the parent named in ``_chem_comp.mon_nstd_parent_comp_id``);
no hand-written table. Results are cached per residue name, so classifying a structure costs one dictionary
look-up per *distinct* residue name; the CCD is loaded (0.3 s, once per process) only for names that are
neither canonical amino acids nor water.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from biotite.structure import info

__all__ = [
    "CANONICAL_AMINO_ACIDS",
    "WATER_NAMES",
    "is_amino_acid",
    "is_nucleotide",
    "one_letter",
    "residue_classes",
]

#: The 20 canonical amino acids (three-letter code -> one-letter code).
CANONICAL_AMINO_ACIDS: dict[str, str] = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G",
    "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S",
    "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
}  # fmt: skip

#: Residue names treated as water (excluded from chains, counted in ``ProteinComplex.waters``).
WATER_NAMES: frozenset[str] = frozenset(
    {"HOH", "WAT", "H2O", "DOD", "D2O", "SOL", "TIP3", "TIP", "TIP4", "SPC"}
)

_CANONICAL_LETTERS = frozenset(CANONICAL_AMINO_ACIDS.values())


@lru_cache(maxsize=1)
def _amino_acid_names() -> frozenset[str]:
    return frozenset(info.amino_acid_names())


@lru_cache(maxsize=1)
def _nucleotide_names() -> frozenset[str]:
    return frozenset(info.nucleotide_names())


def is_amino_acid(res_name: str) -> bool:
    """True if the CCD classifies ``res_name`` as a (possibly modified) amino acid (peptide linking)."""
    # The canonical names first: the CCD's list takes 0.1 s to load, once per process.
    return res_name in CANONICAL_AMINO_ACIDS or res_name in _amino_acid_names()


def is_nucleotide(res_name: str) -> bool:
    """True if the CCD classifies ``res_name`` as a (possibly modified) DNA / RNA nucleotide."""
    return res_name in _nucleotide_names()


def _ccd_field(res_name: str, field: str) -> str | None:
    try:
        column = info.get_from_ccd("chem_comp", res_name, field)
    except Exception:  # noqa: BLE001 - biotite raises various errors for unknown names
        return None
    if column is None or column.mask is not None:
        return None
    value = str(column.as_item()).strip().upper()
    return value or None


@lru_cache(maxsize=4096)
def one_letter(res_name: str) -> str:
    """One-letter code of an amino acid, modified residues mapped to their parent (CCD); else ``"X"``.

    Parameters
    ----------
    res_name : str
        Residue name as in the file (``"MSE"``, ``"ALA"``, ...).

    Returns
    -------
    str
        One of the 20 canonical letters, or ``"X"`` when the CCD gives no canonical parent
        (e.g. ``UNK``, or pyrrolysine ``PYL``/selenocysteine ``SEC`` without a canonical parent).

    Examples
    --------
    >>> one_letter("MSE"), one_letter("SEP"), one_letter("GLY"), one_letter("UNK")
    ('M', 'S', 'G', 'X')
    """
    name = res_name.strip().upper()
    if name in CANONICAL_AMINO_ACIDS:
        return CANONICAL_AMINO_ACIDS[name]
    code = _ccd_field(name, "one_letter_code")
    if code in _CANONICAL_LETTERS:
        return str(code)
    parent = _ccd_field(name, "mon_nstd_parent_comp_id")
    if parent is not None:
        # e.g. "MET" or a comma-separated list; take the first canonical parent
        for p in parent.replace(",", " ").split():
            if p in CANONICAL_AMINO_ACIDS:
                return CANONICAL_AMINO_ACIDS[p]
    return "X"


def residue_classes(res_names: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Classify residues by name, one CCD look-up per distinct name.

    Parameters
    ----------
    res_names : ndarray, shape=(R,), dtype=str
        Residue names.

    Returns
    -------
    amino : ndarray, shape=(R,), dtype=bool
        Amino acids (canonical or modified).
    nucleotide : ndarray, shape=(R,), dtype=bool
        DNA / RNA nucleotides.
    water : ndarray, shape=(R,), dtype=bool
        Water molecules.
    letters : ndarray, shape=(R,), dtype='<U1'
        One-letter code (parent for modified residues, ``"X"`` for non-amino acids / unknown).
    """
    uniq, inverse = np.unique(np.asarray(res_names, dtype=str), return_inverse=True)
    table = [_classify(str(n)) for n in uniq]
    u_amino = np.array([t[0] for t in table], dtype=bool)
    u_nuc = np.array([t[1] for t in table], dtype=bool)
    u_water = np.array([t[2] for t in table], dtype=bool)
    u_letters = np.array([t[3] for t in table], dtype="<U1")
    inverse = inverse.reshape(-1)
    return u_amino[inverse], u_nuc[inverse], u_water[inverse], u_letters[inverse]


@lru_cache(maxsize=8192)
def _classify(name: str) -> tuple[bool, bool, bool, str]:
    if name in WATER_NAMES:  # no water name is an amino acid or nucleotide in the CCD: no need to load it
        return False, False, True, "X"
    amino = is_amino_acid(name)
    return amino, (not amino) and is_nucleotide(name), False, one_letter(name) if amino else "X"
