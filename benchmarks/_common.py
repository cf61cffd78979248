"""Helpers shared by the speed scripts: the same chain samples, written the same way, timed against the same reference."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from biotite.structure.io import pdb, pdbx

from protok.structures import Promod3Chains, ProteinChain, write_structure

__all__ = ["biotite_read", "repo_relative", "sample_chains", "time_each", "write_chains"]

REPO = Path(__file__).resolve().parents[1]


def repo_relative(path: Path) -> str:
    """``path`` relative to the repository root (``../shared/data/...`` for the shared data), as result files
    record it, so they name no folder of the machine that wrote them."""
    return os.path.relpath(Path(path).resolve(), REPO)


def sample_chains(
    data: Path,
    n: int,
    *,
    seed: int = 0,
    min_len: int | None = 40,
    max_len: int | None = 512,
    spread: bool = False,
) -> dict[str, ProteinChain]:
    """``n`` chains of ``min_len``-``max_len`` residues (None: no bound) from the ProMod3 archive ``data``.

    Returns ``{id: chain}`` (``PDBID_CHAIN`` ids) in archive order. By default a seeded random sample,
    ``np.sort(np.random.default_rng(seed).choice(eligible, size=n, replace=False))`` - the sample behind the
    recorded ``tokenize_speed`` and ``encoder_speed`` results; ``spread=True`` instead takes ``n`` chains evenly
    spread over the eligible ones (``np.linspace``; ``seed`` unused), as ``parse_speed`` does.
    """
    db = Promod3Chains(data)
    ok = np.ones(len(db), dtype=bool)
    if min_len is not None:
        ok &= db.lengths >= min_len
    if max_len is not None:
        ok &= db.lengths <= max_len
    eligible = np.flatnonzero(ok)
    if spread:
        pick = eligible[np.linspace(0, len(eligible) - 1, n).astype(int)]
    else:
        pick = np.sort(np.random.default_rng(seed).choice(eligible, size=n, replace=False))
    return {str(db.ids[i]): db.chain(int(i)) for i in pick}


def write_chains(chains: Mapping[str, ProteinChain], folder: Path, fmt: str = "pdb") -> list[Path]:
    """Write each chain of ``{id: chain}`` to ``folder/{id}.{fmt}`` (``fmt`` ``"pdb"`` or ``"cif"``)."""
    return [write_structure(c, Path(folder) / f"{name}.{fmt}") for name, c in chains.items()]


def biotite_read(path: Path) -> Any:
    """The reference floor: biotite's plain read of model 1 (``.pdb`` or ``.cif``)."""
    if Path(path).suffix == ".pdb":
        return pdb.PDBFile.read(str(path)).get_structure(model=1)
    return pdbx.get_structure(pdbx.CIFFile.read(str(path)), model=1)


def time_each(fn: Callable[[Path], Any], paths: list[Path]) -> float:
    """Seconds to call ``fn`` on every path, one after another."""
    t0 = time.perf_counter()
    for p in paths:
        fn(p)
    return time.perf_counter() - t0
