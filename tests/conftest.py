"""Shared test fixtures: the committed real structures and the optional shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
STRUCTURES = REPO / "structures"
SHARED_DATA = Path(os.environ.get("PROTOK_SHARED_DATA", REPO.parent / "shared" / "data"))
PROMOD3_NPZ = SHARED_DATA / "promod3" / "chains.npz"

# Test tensors are small: one intra-op thread is faster than two on a loaded 2-core machine (measured
# 10-100x for tiny ops) and keeps results independent of the machine's core count.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def structures_dir() -> Path:
    """The folder of committed real structure files (see structures/SOURCES.md)."""
    return STRUCTURES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests using it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def promod3_npz() -> Path:
    """Path of ``promod3/chains.npz``; skips when the shared data is absent."""
    if not PROMOD3_NPZ.is_file():
        pytest.skip(f"ProMod3 chains not found at {PROMOD3_NPZ}")
    return PROMOD3_NPZ
