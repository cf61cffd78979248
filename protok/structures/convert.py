"""Convert one model's biotite ``AtomArray`` into a :class:`ProteinComplex` (vectorised, no per-atom loops).

Policies (each tested on a real file in ``structures/``):

* **alternate locations**: per residue, the altloc id with the highest summed occupancy is kept, ties go to
  the altloc that appears first in the file; atoms without an altloc id are always kept.
* **modified residues** (``MSE``, ``SEP``, ...): residue classes and parent one-letter codes come from the
  CCD (:mod:`protok.structures.residues`); ``is_modified`` is True for every non-canonical amino acid and for
  canonical ones written as ``HETATM``.
* **waters** are counted (``ProteinComplex.waters``); **ligands** (every residue that is neither an amino
  acid, a nucleotide nor water, including caps such as NH2) go to ``ProteinComplex.ligands``, for the whole
  model even when ``chains`` selects a subset (binding sites may involve several chains).
* **nucleic-acid chains** are skipped and reported in ``ProteinComplex.skipped``.
* **residues missing backbone atoms** are kept, with ``atom_mask`` False and NaN coordinates; residues are
  never dropped. Chain breaks come from the C(i-1)-N(i) distance (:func:`detect_chain_breaks`).
* **chains** are grouped by author chain id, in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from biotite.structure import AtomArray, get_residue_starts

from protok.errors import ChainNotFoundError, EmptyStructureError, NoProteinChainError
from protok.structures.chain import BACKBONE_ATOMS, ProteinChain, ProteinComplex, SkippedChain
from protok.structures.residues import CANONICAL_AMINO_ACIDS, residue_classes

__all__ = ["atoms_to_complex", "select_altlocs"]

_BLANK_ALTLOC = np.array(["", ".", "?", " "])
_CANONICAL = np.array(sorted(CANONICAL_AMINO_ACIDS))


def select_altlocs(atoms: AtomArray) -> np.ndarray:
    """Mask of atoms kept by the altloc policy: highest summed occupancy per residue, ties to the first.

    Parameters
    ----------
    atoms : AtomArray
        With an ``altloc_id`` annotation (and optionally ``occupancy``; 1.0 assumed if absent).

    Returns
    -------
    ndarray, shape=(n_atoms,), dtype=bool
    """
    n = atoms.array_length()
    if "altloc_id" not in atoms.get_annotation_categories():
        return np.ones(n, dtype=bool)
    alt = atoms.altloc_id.astype(str)
    has_alt = ~np.isin(alt, _BLANK_ALTLOC)
    if not has_alt.any():
        return np.ones(n, dtype=bool)
    occ = (
        atoms.occupancy.astype(np.float64)
        if "occupancy" in atoms.get_annotation_categories()
        else np.ones(n, dtype=np.float64)
    )
    # residue number of every atom (residues keyed by chain, res_id, ins_code: not res_name, so that
    # microheterogeneity such as SER/THR altlocs at one position is resolved as one residue)
    res_of_atom = _residue_of_atom(n, get_residue_starts(atoms))
    idx = np.nonzero(has_alt)[0]
    alt_codes, alt_inv = np.unique(alt[idx], return_inverse=True)
    key = res_of_atom[idx] * len(alt_codes) + alt_inv.reshape(-1)
    groups, first_pos, g_inv = np.unique(key, return_index=True, return_inverse=True)
    g_inv = g_inv.reshape(-1)
    occ_sum = np.bincount(g_inv, weights=occ[idx], minlength=len(groups))
    g_res = groups // len(alt_codes)
    g_first_atom = idx[first_pos]
    # per residue: highest occupancy sum, then earliest first atom (ties to the first in the file)
    order = np.lexsort((g_first_atom, -np.round(occ_sum, 6), g_res))
    winners_sorted = order[np.r_[True, g_res[order][1:] != g_res[order][:-1]]]
    winner = np.zeros(len(groups), dtype=bool)
    winner[winners_sorted] = True
    keep = ~has_alt
    keep[idx] = winner[g_inv]
    return keep


def _requested(chains: str | Sequence[str] | None) -> list[str] | None:
    if chains is None:
        return None
    if isinstance(chains, str):
        return [c for c in chains.split(",") if c != ""] if "," in chains else [chains]
    return [str(c) for c in chains]


def _residue_of_atom(n_atoms: int, starts: np.ndarray) -> np.ndarray:
    """shape=(n_atoms,), int64: the residue number (0-based, file order) of every atom."""
    res_of_atom = np.zeros(n_atoms, dtype=np.int64)
    res_of_atom[starts[1:]] = 1
    return np.cumsum(res_of_atom)


@dataclass(frozen=True)
class _Chains:
    """Author chain ids by kind, in order of first appearance."""

    protein: list[str]
    nucleotides: dict[str, int]  # chain -> nucleotide residues (nucleic-acid and mixed chains)
    skipped: list[SkippedChain]  # nucleic-acid chains, then nucleotides inside protein chains


def _classify_chains(res_chain: np.ndarray, amino: np.ndarray, nucleotide: np.ndarray) -> _Chains:
    uniq_chain, first = np.unique(res_chain, return_index=True)
    chain_order = [str(c) for c in uniq_chain[np.argsort(first)]]
    has_amino = {str(c) for c in np.unique(res_chain[amino])}
    n_nuc = {
        str(c): int(n) for c, n in zip(*np.unique(res_chain[nucleotide], return_counts=True), strict=True)
    }
    protein: list[str] = []
    nucleic: list[SkippedChain] = []
    mixed: list[SkippedChain] = []
    for c in chain_order:
        if c in has_amino:
            protein.append(c)
            if c in n_nuc:
                mixed.append(SkippedChain(c, f"{n_nuc[c]} nucleotide residue(s) inside a protein chain"))
        elif c in n_nuc:
            nucleic.append(SkippedChain(c, f"nucleic acid ({n_nuc[c]} residues)"))
    return _Chains(protein, n_nuc, [*nucleic, *mixed])


def _select(chains: str | Sequence[str] | None, found: _Chains, source: str) -> list[str]:
    """The protein chains to convert: the requested ones (checked) or all."""
    wanted = _requested(chains)
    if wanted is None:
        selected = found.protein
    else:
        for c in wanted:
            if c in found.protein:
                continue
            if c in found.nucleotides:
                raise ChainNotFoundError(source, f"chain {c!r} is a nucleic-acid chain, not a protein chain")
            have = ", ".join(found.protein) or "none"
            raise ChainNotFoundError(source, f"no protein chain {c!r} (protein chains: {have})")
        selected = list(dict.fromkeys(wanted))
    if not selected:
        what = "only nucleic acids" if found.nucleotides else "only ligands / water"
        raise NoProteinChainError(source, f"no protein chain ({what})")
    return selected


def _backbone(
    atoms: AtomArray, res_of_atom: np.ndarray, amino: np.ndarray, n_res: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-residue backbone coordinates (n_res, 4, 3), atom mask (n_res, 4) and CA B-factor (n_res,),
    scattered from the atoms of amino-acid residues in one vectorised step."""
    slot = np.full(atoms.array_length(), -1, dtype=np.int64)
    for k, a in enumerate(BACKBONE_ATOMS):
        slot[atoms.atom_name == a] = k
    coords = np.full((n_res, 4, 3), np.nan, dtype=np.float32)
    mask = np.zeros((n_res, 4), dtype=bool)
    sel = np.nonzero(amino[res_of_atom] & (slot >= 0))[0]
    coords[res_of_atom[sel], slot[sel]] = atoms.coord[sel]
    mask[res_of_atom[sel], slot[sel]] = True
    b_res = np.full(n_res, np.nan, dtype=np.float32)
    if "b_factor" in atoms.get_annotation_categories():
        ca = sel[slot[sel] == 1]
        b_res[res_of_atom[ca]] = atoms.b_factor[ca]
    return coords, mask, b_res


def atoms_to_complex(
    atoms: AtomArray,
    *,
    source: str = "<AtomArray>",
    model: int = 1,
    chains: str | Sequence[str] | None = None,
) -> ProteinComplex:
    """Turn one model's atoms into a :class:`ProteinComplex` (policies in the module docstring).

    Parameters
    ----------
    atoms : AtomArray
        Needs ``chain_id``, ``res_id``, ``ins_code``, ``res_name``, ``hetero``, ``atom_name``; uses
        ``b_factor``, ``occupancy``, ``altloc_id`` and ``label_asym_id`` when present.
    source : str
        Name used in the chains and in error messages.
    model : int
        Model number recorded in the result.
    chains : str or sequence of str, optional
        Author chain ids to keep (``"A"``, ``"A,B"`` or ``["A", "B"]``); default all protein chains.

    Returns
    -------
    ProteinComplex

    Raises
    ------
    EmptyStructureError
        No atoms.
    ChainNotFoundError
        A requested chain id does not exist (or is not a protein chain).
    NoProteinChainError
        No protein chain (only nucleic acids, ligands or water).
    """
    if atoms.array_length() == 0:
        raise EmptyStructureError(source, "no atoms")
    keep = select_altlocs(atoms)
    if not keep.all():
        atoms = atoms[keep]
    starts = get_residue_starts(atoms)
    res_of_atom = _residue_of_atom(atoms.array_length(), starts)
    res_names = atoms.res_name[starts].astype(str)
    res_chain = atoms.chain_id[starts].astype(str)
    amino, nucleotide, water, letters = residue_classes(res_names)
    found = _classify_chains(res_chain, amino, nucleotide)
    selected = _select(chains, found, source)

    # ligands: every non-water residue that is neither an amino acid nor a nucleotide
    lig_res = ~(amino | nucleotide | water)
    coords, mask, b_res = _backbone(atoms, res_of_atom, amino, len(starts))
    label = (
        atoms.label_asym_id[starts].astype(str)
        if "label_asym_id" in atoms.get_annotation_categories()
        else res_chain
    )
    columns = {
        "coords": coords,
        "atom_mask": mask,
        "res_ids": atoms.res_id[starts].astype(np.int32),
        "ins_codes": atoms.ins_code[starts].astype("<U1"),
        "b_factors": b_res,
        "is_modified": (~np.isin(res_names, _CANONICAL)) | atoms.hetero[starts],
        "res_names": res_names.astype("<U5"),
    }
    out = []
    for c in selected:
        idx = np.nonzero((res_chain == c) & amino)[0]
        out.append(
            ProteinChain(
                **{name: values[idx] for name, values in columns.items()},
                sequence="".join(letters[idx]),
                auth_chain_id=c,
                label_chain_id=str(label[idx[0]]),
                source=source,
                model=model,
            )
        )
    return ProteinComplex(
        chains=tuple(out),
        ligands=atoms[lig_res[res_of_atom]] if lig_res.any() else None,
        waters=int(np.count_nonzero(water[res_of_atom])),
        skipped=tuple(found.skipped),
        source=source,
        model=model,
    )
