"""Finding input structure files and splitting a run into deterministic shards (``--shard i/N``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from protok.errors import InputNotFoundError

__all__ = ["STRUCTURE_SUFFIXES", "collect_inputs", "is_structure_file", "parse_shard", "select_shard"]

#: File name endings treated as structure files when a directory is searched (each also with ``.gz``).
STRUCTURE_SUFFIXES: tuple[str, ...] = (".pdb", ".ent", ".cif", ".mmcif", ".bcif")


def is_structure_file(path: str | os.PathLike[str]) -> bool:
    """True if the name ends in a structure suffix (optionally followed by ``.gz``)."""
    name = os.fspath(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(STRUCTURE_SUFFIXES)


def collect_inputs(patterns: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand files, directories (searched recursively) and globs into a sorted, de-duplicated file list.

    An explicitly named file is kept whatever its extension (format detection reads its content); files found
    in directories or by globs are kept when :func:`is_structure_file` says so.

    Raises
    ------
    InputNotFoundError
        A pattern that is neither an existing path nor a glob matching anything.
    """
    found: set[str] = set()
    for pattern in patterns:
        p = os.fspath(pattern)
        if os.path.isfile(p):
            found.add(os.path.abspath(p))
            continue
        if os.path.isdir(p):
            hits = [str(f) for f in Path(p).rglob("*") if f.is_file() and is_structure_file(f)]
        else:
            hits = [h for h in glob.glob(p, recursive=True) if os.path.isfile(h) and is_structure_file(h)]
            if not hits and not glob.has_magic(p):
                raise InputNotFoundError(f"{p}: no such file or directory")
        if not hits:
            raise InputNotFoundError(
                f"{p}: no structure files found (suffixes {', '.join(STRUCTURE_SUFFIXES)}, .gz)"
            )
        found.update(os.path.abspath(h) for h in hits)
    return sorted(found)


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``."""
    try:
        i_s, n_s = spec.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise ValueError(f"--shard must look like i/N (e.g. 0/8), got {spec!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {spec!r}: need 0 <= i < N")
    return i, n


def select_shard(files: list[str], index: int, count: int) -> list[str]:
    """Every ``count``-th file of the sorted list starting at ``index``: disjoint shards covering all files."""
    return sorted(files)[index::count]
