"""Writing protok chains / complexes back to PDB or mmCIF (backbone atoms only)."""

from __future__ import annotations

import gzip
import io
import os
import textwrap
from pathlib import Path

import numpy as np
from biotite.structure import AtomArray
from biotite.structure.io import pdb, pdbx

from protok.errors import UnknownFormatError
from protok.structures.chain import BACKBONE_ATOMS, ProteinChain, ProteinComplex
from protok.structures.residues import CANONICAL_AMINO_ACIDS

__all__ = ["to_atom_array", "write_structure"]

_THREE = {v: k for k, v in CANONICAL_AMINO_ACIDS.items()}
_ELEMENTS = np.array(["N", "C", "C", "O"])


def _chain_atoms(chain: ProteinChain) -> AtomArray:
    n = len(chain)
    mask = chain.atom_mask.reshape(-1)
    res_idx = np.repeat(np.arange(n), 4)[mask]
    slot = np.tile(np.arange(4), n)[mask]
    atoms = AtomArray(int(mask.sum()))
    atoms.coord = chain.coords.reshape(-1, 3)[mask]
    atoms.chain_id = np.full(len(res_idx), chain.auth_chain_id, dtype="U4")
    atoms.res_id = chain.res_ids[res_idx]
    atoms.ins_code = chain.ins_codes[res_idx]
    names = np.array(chain.res_names)
    unknown = names == "UNK"
    if unknown.any():  # chains built from a sequence only (e.g. decoder output): use the one-letter code
        letters = np.array(list(chain.sequence))
        names = np.where(unknown, [_THREE.get(x, "UNK") for x in letters], names)
    atoms.res_name = names[res_idx]
    atoms.hetero = chain.is_modified[res_idx] & ~np.isin(atoms.res_name, list(CANONICAL_AMINO_ACIDS))
    atoms.atom_name = np.array(BACKBONE_ATOMS)[slot]
    atoms.element = _ELEMENTS[slot]
    b = np.nan_to_num(chain.b_factors, nan=0.0)
    atoms.add_annotation("b_factor", float)
    atoms.b_factor = b[res_idx]
    return atoms


def to_atom_array(x: ProteinChain | ProteinComplex) -> AtomArray:
    """Backbone atoms (N, CA, C, O) of a chain or complex as a biotite ``AtomArray``.

    Atoms whose ``atom_mask`` is False are omitted; residue names come from ``res_names`` (or, for
    ``UNK``, from the one-letter sequence); the CA B-factor is written on every backbone atom.

    Parameters
    ----------
    x : ProteinChain or ProteinComplex

    Returns
    -------
    AtomArray
        ``n_atoms = atom_mask.sum()`` atoms, chains in order, with a ``b_factor`` annotation.
    """
    chains = [x] if isinstance(x, ProteinChain) else list(x.chains)
    parts = [_chain_atoms(c) for c in chains]
    if not parts:
        return AtomArray(0)
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def _pdb_title_lines(title: str) -> list[str]:
    """``TITLE`` records: text from column 11, continuation records numbered from 2 (PDB format 3.3)."""
    parts = textwrap.wrap(" ".join(title.split()), 69, break_on_hyphens=False) or [""]
    return [f"TITLE     {parts[0]}"] + [f"TITLE   {i:>2} {text}" for i, text in enumerate(parts[1:], 2)]


def write_structure(
    x: ProteinChain | ProteinComplex | AtomArray, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write a chain, complex or ``AtomArray``; the format comes from the extension.

    ``.pdb`` / ``.ent`` -> PDB, ``.cif`` / ``.mmcif`` -> mmCIF, ``.bcif`` -> BinaryCIF, each optionally
    followed by ``.gz``.

    Parameters
    ----------
    x : ProteinChain, ProteinComplex or AtomArray
    path : str or os.PathLike
    title : str, optional
        What the file holds, written as ``TITLE`` records (PDB) or ``_struct.title`` (mmCIF, BinaryCIF).

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    UnknownFormatError
        Unsupported extension.
    biotite.structure.BadStructureError
        The structure does not fit the format (PDB: a chain id longer than one character, ...).
    """
    path = Path(path)
    atoms = x if isinstance(x, AtomArray) else to_atom_array(x)
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    ext = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if ext in (".pdb", ".ent"):
        f = pdb.PDBFile()
        f.set_structure(atoms)
        if title:
            f.lines = _pdb_title_lines(title) + f.lines
        text = io.StringIO()
        f.write(text)
        data = text.getvalue().encode()
    elif ext in (".cif", ".mmcif"):
        cif = pdbx.CIFFile()
        pdbx.set_structure(cif, atoms)
        if title:
            cif.block["struct"] = pdbx.CIFCategory({"title": title})
        text = io.StringIO()
        cif.write(text)
        data = text.getvalue().encode()
    elif ext == ".bcif":
        bcif = pdbx.BinaryCIFFile()
        pdbx.set_structure(bcif, atoms)
        if title:
            bcif.block["struct"] = pdbx.BinaryCIFCategory({"title": title})
        binary = io.BytesIO()
        bcif.write(binary)
        data = binary.getvalue()
    else:
        raise UnknownFormatError(
            str(path), "cannot choose a format from the extension (use .pdb, .cif or .bcif)"
        )
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
