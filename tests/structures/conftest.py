"""Fixtures for the structure-parsing tests: the shipped files and the optional shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STRUCTURES = REPO / "structures"
SHARED_DATA = Path(os.environ.get("PROTOK_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def structures_dir() -> Path:
    """Folder of real structure files shipped in the repository."""
    return STRUCTURES


@pytest.fixture(scope="session")
def promod3_path() -> Path:
    """``chains.npz`` of the shared data; skips the test when the shared data is absent."""
    path = SHARED_DATA / "promod3" / "chains.npz"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    return path
