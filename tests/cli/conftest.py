"""Fixtures of the command-line tests: a small non-degenerate model saved to disk, and its tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

STRUCTURES = Path(__file__).resolve().parents[2] / "structures"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A random-init small model whose codebook is seeded from real residues (protok.tokenizer.testing)."""
    from protok.structures import read_structure
    from protok.tokenizer.testing import make_test_model

    chains = list(read_structure(STRUCTURES / "1ubi.pdb").chains)
    chains += list(read_structure(STRUCTURES / "3o21.pdb.gz", chains="A").chains)
    return make_test_model(tmp_path_factory.mktemp("cli-model") / "m", chains, seed=0)


@pytest.fixture(scope="session")
def tok(model_dir):
    import protok.tokenizer as T

    return T.load(model_dir)
