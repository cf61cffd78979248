"""Finding input structure files, naming their records, and splitting a run into deterministic shards
(``--shard i/N``)."""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from protok.errors import InputNotFoundError

__all__ = [
    "STRUCTURE_SUFFIXES",
    "collect_inputs",
    "entry_id",
    "is_structure_file",
    "parse_shard",
    "record_ids",
    "select_shard",
]

#: File name endings treated as structure files when a directory is searched (each also with ``.gz``).
STRUCTURE_SUFFIXES: tuple[str, ...] = (".pdb", ".ent", ".cif", ".mmcif", ".pdbx", ".bcif")


def entry_id(source: object) -> str:
    """Entry id of a source: the file name without ``.gz`` and structure extensions (``1abc.cif.gz`` -> ``1abc``).

    In-memory sources give their description (``<bytes>``, ``<memory>``, ...).
    """
    if isinstance(source, (str, os.PathLike)):
        name = Path(source).name
        if name.lower().endswith(".gz"):
            name = name[:-3]
        for suf in STRUCTURE_SUFFIXES:
            if name.lower().endswith(suf):
                return name[: -len(suf)]
        return Path(name).stem or name
    return str(source)


def record_ids(files: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """The record id of each input of one run, unique within the run.

    The rule: a file's id is its name without ``.gz`` and the structure extension (:func:`entry_id`:
    ``pdbs/ab/1abc.cif.gz`` -> ``1abc``). Files that would share an id are named by their path relative to
    the deepest folder holding them all, without the extension (``a/x.pdb``, ``b/x.pdb`` -> ``a/x``, ``b/x``),
    and with the extension where that still leaves two alike (``x.pdb``, ``x.cif`` -> ``x.pdb``, ``x.cif``).
    Ids depend on the whole input list (before ``--shard`` selects a slice), so every shard of a run agrees.

    Parameters
    ----------
    files : sequence of str or path
        The run's inputs, as given to the runner.

    Returns
    -------
    dict
        ``str(file)`` -> record id.

    Examples
    --------
    >>> record_ids(["/d/1abc.cif.gz", "/d/a/x.pdb", "/d/b/x.pdb", "/d/b/y.pdb", "/d/b/y.cif"])
    {'/d/1abc.cif.gz': '1abc', '/d/a/x.pdb': 'a/x', '/d/b/x.pdb': 'b/x', '/d/b/y.pdb': 'y.pdb', '/d/b/y.cif': 'y.cif'}
    """
    paths = [os.fspath(f) for f in files]
    ids = {p: entry_id(p) for p in paths}
    groups: dict[str, list[str]] = {}
    for p in paths:
        groups.setdefault(ids[p], []).append(p)
    for group in (g for g in groups.values() if len(g) > 1):
        full = [os.path.abspath(p) for p in group]
        root = os.path.commonpath([os.path.dirname(f) for f in full])
        rel = [PurePosixPath(Path(os.path.relpath(f, root)).as_posix()) for f in full]
        short = [str(r.parent / entry_id(r.name)) if str(r.parent) != "." else entry_id(r.name) for r in rel]
        twice = {name for name, n in Counter(short).items() if n > 1}
        for p, r, name in zip(group, rel, short):
            ids[p] = str(r) if name in twice else name
    clash = {name for name, n in Counter(ids.values()).items() if n > 1}
    for p in paths:  # only contrived names get here (e.g. "x.pdb.pdb" beside "x.pdb" and "x.cif")
        if ids[p] in clash:
            ids[p] = os.path.abspath(p)
    return ids


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
