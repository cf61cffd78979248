"""Real chains for the graph tests, from ``../shared/data/promod3/chains.npz`` (skips when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protok.structures import Promod3Chains, ProteinChain


class Promod3(Promod3Chains):
    """The ProMod3 archive (protok's one loader) plus a finder of chains by length and helix content."""

    def find(self, lo: int, hi: int, min_helix: float = 0.0, skip: int = 0) -> int:
        """Index of the (skip+1)-th chain with lo <= length <= hi and a helix fraction >= min_helix."""
        seen = 0
        for i in np.flatnonzero((self.lengths >= lo) & (self.lengths <= hi)):
            if min_helix and self.dssp(int(i)).count("H") / self.lengths[i] < min_helix:
                continue
            if seen == skip:
                return int(i)
            seen += 1
        raise LookupError(f"no chain with length {lo}-{hi} and helix >= {min_helix}")


@pytest.fixture(scope="session")
def promod3(promod3_npz: Path) -> Promod3:
    return Promod3(promod3_npz)


@pytest.fixture(scope="session")
def chain300(promod3: Promod3) -> ProteinChain:
    """A real chain of about 300 residues."""
    return promod3.chain(int(np.argmin(np.abs(promod3.lengths - 300))))


@pytest.fixture(scope="session")
def small_chain(promod3: Promod3) -> ProteinChain:
    """A real chain of 40-70 residues."""
    return promod3.chain(promod3.find(40, 70))


@pytest.fixture(scope="session")
def helix_chain(promod3: Promod3) -> ProteinChain:
    """A real 60-120-residue chain that is at least half alpha helix (DSSP H)."""
    return promod3.chain(promod3.find(60, 120, min_helix=0.5))
