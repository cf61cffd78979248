"""Helpers shared by the speed scripts, so every script times the same reference in the same way."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from biotite.structure.io import pdb, pdbx

__all__ = ["biotite_read", "time_each"]


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
