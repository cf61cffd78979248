"""Structure parsing into protok's frozen chain / complex types.

``read_structure`` / ``read_chain`` read PDB, mmCIF and BinaryCIF (optionally gzip) from a path, bytes, a
file object or a biotite ``AtomArray``; ``write_structure`` writes backbones back out; ``Promod3Chains``
reads the shared ProMod3 backbone archive; ``idealize_backbone`` turns predicted backbone atoms into the
nearest chain of ideal trans peptides, and ``bonded_ca_ok``, ``peptide_bonds_ok`` and ``ca_clashes`` check
a backbone's bonds and CA clashes.
"""

from protok.structures.chain import (
    BACKBONE_ATOMS,
    PEPTIDE_BOND_MAX,
    ProteinChain,
    ProteinComplex,
    SkippedChain,
    detect_chain_breaks,
)
from protok.structures.convert import atoms_to_complex
from protok.structures.idealize import (
    IdealizeConfig,
    bonded_ca_ok,
    ca_clashes,
    idealize_backbone,
    peptide_bonds_ok,
)
from protok.structures.promod3 import Promod3Chains
from protok.structures.read import read_chain, read_structure
from protok.structures.summary import complex_summary, format_summary
from protok.structures.write import to_atom_array, write_structure

__all__ = [
    "BACKBONE_ATOMS",
    "PEPTIDE_BOND_MAX",
    "IdealizeConfig",
    "Promod3Chains",
    "ProteinChain",
    "ProteinComplex",
    "SkippedChain",
    "atoms_to_complex",
    "bonded_ca_ok",
    "ca_clashes",
    "complex_summary",
    "detect_chain_breaks",
    "format_summary",
    "idealize_backbone",
    "peptide_bonds_ok",
    "read_chain",
    "read_structure",
    "to_atom_array",
    "write_structure",
]
