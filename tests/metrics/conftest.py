"""Real backbones for the metric tests: a few ProMod3 chains (shared data) and a committed PDB file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protok.structures import Promod3Chains

#: ProMod3 chains used (index into chains.npz; lengths 415, 106, 72, 63), cropped to MAX_LEN residues.
PROMOD3_PICK = (0, 5, 100, 2000)
MAX_LEN = 200


def promod3_backbones(npz: Path, picks: tuple[int, ...]) -> list[np.ndarray]:
    """Backbones (L, 4, 3) float64 of chosen chains (first MAX_LEN residues)."""
    db = Promod3Chains(npz)
    return [db.coords(i)[:MAX_LEN].astype(np.float64) for i in picks]


@pytest.fixture(scope="session")
def backbones(promod3_npz: Path) -> list[np.ndarray]:
    return promod3_backbones(promod3_npz, PROMOD3_PICK)


@pytest.fixture(scope="session")
def ubiquitin(structures_dir: Path):
    """Chain A of structures/1ubi.pdb as a ProteinChain."""
    from protok.structures import read_structure

    path = structures_dir / "1ubi.pdb"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return read_structure(path).chains[0]


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: on the shared, oversubscribed 2-core machine the many small tensor ops of the
    TM-score search were several times slower with 2 threads. Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
