"""Structure parsing into protok's frozen chain / complex types."""

from protok.structures.chain import (
    BACKBONE_ATOMS,
    PEPTIDE_BOND_MAX,
    ProteinChain,
    ProteinComplex,
    SkippedChain,
    detect_chain_breaks,
)

__all__ = [
    "BACKBONE_ATOMS",
    "PEPTIDE_BOND_MAX",
    "ProteinChain",
    "ProteinComplex",
    "SkippedChain",
    "detect_chain_breaks",
]
