"""Fixtures for tokenizer tests: a small non-degenerate model saved to disk, and mixed input folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STRUCTURES = REPO / "structures"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init small ProtokModel whose codebook is seeded from real residues (see protok.tokenizer.testing)."""
    from protok.structures import read_structure
    from protok.tokenizer.testing import make_test_model

    chains = list(read_structure(STRUCTURES / "1ubi.pdb").chains)
    chains += list(read_structure(STRUCTURES / "3o21.pdb.gz", chains="A").chains)
    return make_test_model(tmp_path_factory.mktemp("model") / "test-model", chains, seed=0)


@pytest.fixture(scope="session")
def tok(model_dir: Path):
    import protok.tokenizer as T

    return T.load(model_dir)


def make_mixed_folder(root: Path, copies: int = 3) -> tuple[Path, list[Path], list[Path]]:
    """A folder tree of good files (copies of real entries), a malformed file and a nucleic-acid-only file.

    Returns
    -------
    folder, good files, bad files
    """
    import biotite.structure as struc
    from biotite.structure.io import pdb

    folder = root / "inputs"
    (folder / "sub").mkdir(parents=True)
    good: list[Path] = []
    for i in range(copies):
        for name in ("1ubi.pdb", "1a8o.cif", "3jqh.bcif.gz", "2n0n_model1.pdb"):
            stem, _, ext = name.partition(".")
            target = (folder / "sub" if i % 2 else folder) / f"{stem}_{i}.{ext}"
            shutil.copy(STRUCTURES / name, target)
            good.append(target)
    bad = folder / "broken.pdb"
    shutil.copy(STRUCTURES / "1ubi_truncated.pdb", bad)
    # nucleic-acid-only: the two DNA strands of the lac repressor-operator complex 1LCD (model 1)
    atoms = pdb.PDBFile.read(STRUCTURES / "1lcd.pdb").get_structure(model=1)
    dna = atoms[struc.filter_nucleotides(atoms)]
    na_only = folder / "sub" / "1lcd_dna.pdb"
    f = pdb.PDBFile()
    f.set_structure(dna)
    f.write(na_only)
    return folder, sorted(good), [bad, na_only]


@pytest.fixture(scope="session")
def mixed_folder_factory():
    """The :func:`make_mixed_folder` function (for tests that need more copies)."""
    return make_mixed_folder


@pytest.fixture()
def mixed_folder(tmp_path: Path) -> tuple[Path, list[Path], list[Path]]:
    return make_mixed_folder(tmp_path)
