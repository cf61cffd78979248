"""Real chains for the graph tests, decoded from ``../shared/data/promod3/chains.npz`` (skips when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protok.structures import ProteinChain


class Promod3:
    """Minimal reader of chains.npz (format in ../shared/data/README.md), independent of the parsers."""

    def __init__(self, path: Path) -> None:
        d = np.load(path)
        self.ids = [s.decode() for s in d["id"]]
        self.length = d["length"].astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.length)[:-1]])
        self.seq = d["seq"]
        self.dssp = d["dssp"]
        self.ca = d["ca_milliA"]
        self.nco = d["nco_minus_ca_milliA"]

    def chain(self, i: int) -> ProteinChain:
        s, n = int(self.start[i]), int(self.length[i])
        ca = self.ca[s : s + n].astype(np.float64)
        nco = ca[:, None, :] + self.nco[s : s + n]
        xyz = np.stack([nco[:, 0], ca, nco[:, 1], nco[:, 2]], axis=1) / 1000.0
        pdb, chain_id = self.ids[i].split("_")
        return ProteinChain(
            coords=xyz,
            atom_mask=np.ones((n, 4), bool),
            sequence=self.seq[s : s + n].tobytes().decode(),
            auth_chain_id=chain_id,
            label_chain_id=chain_id,
            source=f"promod3:{self.ids[i]}",
        )

    def dssp_of(self, i: int) -> str:
        s, n = int(self.start[i]), int(self.length[i])
        return self.dssp[s : s + n].tobytes().decode()

    def find(self, lo: int, hi: int, min_helix: float = 0.0, skip: int = 0) -> int:
        """Index of the (skip+1)-th chain with lo <= length <= hi and a helix fraction >= min_helix."""
        seen = 0
        for i in np.flatnonzero((self.length >= lo) & (self.length <= hi)):
            if min_helix and self.dssp_of(int(i)).count("H") / self.length[i] < min_helix:
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
    return promod3.chain(int(np.argmin(np.abs(promod3.length - 300))))


@pytest.fixture(scope="session")
def small_chain(promod3: Promod3) -> ProteinChain:
    """A real chain of 40-70 residues."""
    return promod3.chain(promod3.find(40, 70))


@pytest.fixture(scope="session")
def helix_chain(promod3: Promod3) -> ProteinChain:
    """A real 60-120-residue chain that is at least half alpha helix (DSSP H)."""
    return promod3.chain(promod3.find(60, 120, min_helix=0.5))
