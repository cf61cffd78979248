"""Reading structure sources into biotite atom arrays: paths, bytes, file objects; PDB, mmCIF, BinaryCIF, gzip.

The format is detected from the content (gzip magic bytes, BinaryCIF MessagePack map header, ``data_`` for
mmCIF, PDB record names), with the file extension as a tie-breaker. Every failure is raised as a
:mod:`protok.errors` exception that names the source and the reason.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from biotite.structure import AtomArray, AtomArrayStack
from biotite.structure.io import pdb, pdbx

from protok.errors import (
    CorruptStructureError,
    EmptyStructureError,
    StructureFileNotFoundError,
    StructureModelNotFoundError,
    UnknownFormatError,
)
from protok.structures.pdbcolumns import index_pdb

__all__ = [
    "Format",
    "RawStructure",
    "detect_format",
    "load_atoms",
    "model_count",
    "read_source",
    "select_model",
]

Format = Literal["pdb", "cif", "bcif"]

_FMT_ALIASES: dict[str, Format] = {
    "pdb": "pdb", "ent": "pdb", "cif": "cif", "mmcif": "cif", "pdbx": "cif", "bcif": "bcif", "binarycif": "bcif",
}  # fmt: skip
_PDB_RECORD = re.compile(
    rb"^(ATOM  |HETATM|HEADER|REMARK|CRYST1|MODEL |TITLE |COMPND|SOURCE|EXPDTA|SEQRES|ORIGX|SCALE|KEYWDS|AUTHOR)",
    re.M,
)
_EXTRA_FIELDS = ["b_factor", "occupancy"]


def _has_wide_chain_ids(data: bytes) -> bool:
    """True if a coordinate record has a non-blank column 21: a two-character chain id (written by e.g.
    ProDy / PyMOL for large assemblies). biotite reads only column 22, which would merge distinct chains.
    Vectorised over line starts (a regex over every line costs several times more)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate([[0], np.flatnonzero(buf == 10) + 1])
    ends = np.concatenate([starts[1:] - 1, [len(buf)]])
    ok = ends - starts > 21
    starts = starts[ok]
    head = buf[starts[:, None] + np.arange(4)]
    is_coord = (head == np.frombuffer(b"ATOM", np.uint8)).all(axis=1) | (
        head == np.frombuffer(b"HETA", np.uint8)
    ).all(axis=1)
    return bool((buf[starts[is_coord] + 20] != 32).any())


@dataclass(frozen=True)
class RawStructure:
    """A structure source reduced to decompressed bytes, a display name and a format."""

    data: bytes
    name: str
    fmt: Format


def _name_of(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, (str, os.PathLike)) else f"<{type(source).__name__}>"


def _ext_format(name: str) -> Format | None:
    parts = Path(name).name.lower().split(".")
    if parts and parts[-1] == "gz":
        parts = parts[:-1]
    if len(parts) < 2:
        return None
    return _FMT_ALIASES.get(parts[-1])


def detect_format(data: bytes, name: str = "<bytes>") -> Format:
    """Detect PDB / mmCIF / BinaryCIF from (already decompressed) content, the extension breaking ties.

    Parameters
    ----------
    data : bytes
        Decompressed file content.
    name : str
        Source name, used for the extension hint and in error messages.

    Returns
    -------
    {"pdb", "cif", "bcif"}

    Raises
    ------
    EmptyStructureError
        ``data`` is empty or whitespace.
    UnknownFormatError
        The content is none of the supported formats.
    """
    if not data.strip():
        raise EmptyStructureError(name, "file is empty")
    first = data[0]
    # BinaryCIF is a MessagePack map: fixmap 0x80-0x8f, map16 0xde, map32 0xdf
    if 0x80 <= first <= 0x8F or first in (0xDE, 0xDF):
        return "bcif"
    text = data[:4096].decode("latin-1")  # never fails; header text may hold non-ASCII author names
    if "\x00" in text:
        raise UnknownFormatError(name, "binary content that is neither gzip nor BinaryCIF (MessagePack)")
    stripped = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#")).lstrip()
    if stripped.startswith("data_"):
        return "cif"
    if _PDB_RECORD.search(data[:200_000]):
        hint = _ext_format(name)
        return "cif" if hint == "cif" and b"_atom_site." in data else "pdb"
    raise UnknownFormatError(name, "not a PDB, mmCIF or BinaryCIF file (no 'data_' block and no PDB records)")


def read_source(source: Any, fmt: str | None = None) -> RawStructure:
    """Read a path, bytes or file object, decompress gzip, and determine the format.

    Parameters
    ----------
    source : str, os.PathLike, bytes, or a binary / text file object
    fmt : str, optional
        Force the format (``"pdb"``, ``"cif"``/``"mmcif"``, ``"bcif"``); gzip is still detected.

    Returns
    -------
    RawStructure
    """
    name = _name_of(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise StructureFileNotFoundError(name, "file does not exist") from None
        except IsADirectoryError:
            raise UnknownFormatError(name, "is a directory, not a structure file") from None
        except OSError as exc:
            raise CorruptStructureError(name, f"cannot be read ({exc.strerror or exc})") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        content = source.read()
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    else:
        raise UnknownFormatError(name, f"unsupported source type {type(source).__name__}")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptStructureError(name, f"corrupt or truncated gzip data ({exc})") from None
    elif name.lower().endswith(".gz"):
        _check_not_gzip(data, name)
    if fmt is not None:
        forced = _FMT_ALIASES.get(fmt.lower().lstrip("."))
        if forced is None:
            raise UnknownFormatError(name, f"unknown format {fmt!r} (use pdb, cif or bcif)")
        if not data.strip():
            raise EmptyStructureError(name, "file is empty")
        return RawStructure(data, name, forced)
    return RawStructure(data, name, detect_format(data, name))


def _check_not_gzip(data: bytes, name: str) -> None:
    """A file named ``.gz`` whose content is not gzip data: fine if it is a structure file all the same
    (read as it is), else say that it is not valid gzip rather than "not a structure file"."""
    try:
        detect_format(data, name)
    except (UnknownFormatError, EmptyStructureError):
        raise CorruptStructureError(
            name, "not a valid gzip file (the name ends in .gz but the content is not gzip-compressed)"
        ) from None


def _open(raw: RawStructure) -> Any:
    """Parse the container (PDBFile / CIFFile / BinaryCIFFile)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if raw.fmt == "bcif":
                return pdbx.BinaryCIFFile.read(io.BytesIO(raw.data))
            text = raw.data.decode("utf-8", errors="replace")
            if raw.fmt == "cif":
                return pdbx.CIFFile.read(io.StringIO(text))
            _check_pdb_records(text, raw.name)
            return pdb.PDBFile.read(io.StringIO(text))
    except (EmptyStructureError, CorruptStructureError):
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a named protok error
        raise CorruptStructureError(
            raw.name, f"not a valid {_FMT_NAMES[raw.fmt]} file ({_short(exc)})"
        ) from None


_FMT_NAMES = {"pdb": "PDB", "cif": "mmCIF", "bcif": "BinaryCIF"}


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0][:200]}" if msg else type(exc).__name__


def _check_pdb_records(text: str, name: str) -> None:
    """Catch a file cut inside its last coordinate record, which biotite could misread silently.

    A short record in the middle of a file makes biotite fail on the empty coordinate field (reported as
    :class:`CorruptStructureError` by the caller); a record cut *inside* the z coordinate would not.
    """
    last = max(text.rfind("\nATOM  "), text.rfind("\nHETATM"))
    if last < 0:
        if text.startswith(("ATOM  ", "HETATM")):
            last = -1
        else:
            return
    end = text.find("\n", last + 1)
    line = text[last + 1 : end if end >= 0 else len(text)].rstrip("\r")
    if len(line) < 54:
        line_no = text.count("\n", 0, last + 1) + 1
        raise CorruptStructureError(
            name, f"truncated coordinate record at line {line_no} ({len(line)} < 54 columns)"
        )


def _block(cif: Any, raw: RawStructure) -> Any:
    try:
        block = cif.block
    except Exception as exc:  # noqa: BLE001
        raise CorruptStructureError(
            raw.name, f"not a valid {_FMT_NAMES[raw.fmt]} file (no single data block: {_short(exc)})"
        ) from None
    if "atom_site" not in block:
        raise EmptyStructureError(raw.name, "mmCIF has no atom_site category (no coordinates)")
    return block


def _apply_wide_chain_ids(container: pdb.PDBFile, atoms: AtomArray, model: int) -> None:
    """Replace biotite's one-character chain ids by columns 21-22 (two-character chain ids)."""
    lines = container.lines
    idx = container._get_atom_record_indices_for_model(model)  # noqa: SLF001 - same records biotite read
    wide = np.array([lines[i][20:22].strip() for i in idx])
    if len(wide) == atoms.array_length():
        atoms.set_annotation("chain_id", wide)


def _fill_blank_fields(container: pdb.PDBFile) -> pdb.PDBFile:
    """The same PDB file with blank occupancy (-> 1.00) and B-factor (-> nan) columns filled in.

    Blank columns are legal in files written by many modelling tools, but biotite's reader converts both
    columns of every record unconditionally and fails on them. Only called after that failure, so ordinary
    files pay nothing; a column that holds something that is not a number still fails afterwards.
    """
    fixed = []
    for line in container.lines:
        if line.startswith(("ATOM", "HETATM")) and len(line) >= 54:
            line = line.ljust(66)
            occ = line[54:60] if line[54:60].strip() else "  1.00"
            bfac = line[60:66] if line[60:66].strip() else "   nan"
            line = line[:54] + occ + bfac + line[66:]
        fixed.append(line)
    return pdb.PDBFile.read(io.StringIO("\n".join(fixed) + "\n"))


def model_count(container: Any, name: str) -> int:
    """Number of models in an opened container."""
    try:
        if isinstance(container, pdb.PDBFile):
            return int(container.get_model_count())
        return int(pdbx.get_model_count(container))
    except Exception as exc:  # noqa: BLE001
        what = (
            "PDB"
            if isinstance(container, pdb.PDBFile)
            else "BinaryCIF"
            if isinstance(container, pdbx.BinaryCIFFile)
            else "mmCIF"
        )
        raise CorruptStructureError(
            name, f"truncated or corrupt {what} (cannot count models: {_short(exc)})"
        ) from None


def _model_numbers(name: str, model: int | Literal["all"], n_models: int) -> list[int]:
    """The 1-based model numbers that ``model`` asks for in a file of ``n_models`` models."""
    if n_models == 0:
        raise EmptyStructureError(name, "no atom records")
    if model == "all":
        return list(range(1, n_models + 1))
    if not isinstance(model, (int, np.integer)) or isinstance(model, bool):
        raise StructureModelNotFoundError(name, f"model must be a positive int or 'all', got {model!r}")
    if not 1 <= model <= n_models:
        raise StructureModelNotFoundError(name, f"model {model} requested, file has {n_models} model(s)")
    return [int(model)]


def _load_pdb_columns(raw: RawStructure, model: int | Literal["all"]) -> list[tuple[int, AtomArray]] | None:
    """:func:`load_atoms` for a plainly well-formed PDB file through the column reader
    (:mod:`protok.structures.pdbcolumns`, the same result several times faster); None for any other file."""
    columns = index_pdb(raw.data)
    if columns is None:
        return None
    out = []
    for m in _model_numbers(raw.name, model, columns.model_count):
        atoms = columns.get_structure(m)
        if atoms is None:
            return None
        out.append((m, atoms))
    return out


def load_atoms(raw: RawStructure, model: int | Literal["all"] = 1) -> list[tuple[int, AtomArray]]:
    """Parse one model (or all) of a raw structure into biotite ``AtomArray`` objects.

    Alternate locations are kept (``altloc_id`` annotation) with ``occupancy`` and ``b_factor``, so the
    caller can apply protok's altloc policy. Plainly well-formed PDB files are read column-wise
    (:mod:`protok.structures.pdbcolumns`), with exactly biotite's result; every other file through biotite.

    Parameters
    ----------
    raw : RawStructure
    model : int or "all"
        1-based model number, or ``"all"``.

    Returns
    -------
    list of (int, AtomArray)
        ``(model number, atoms)`` pairs.
    """
    if raw.fmt == "pdb":
        fast = _load_pdb_columns(raw, model)
        if fast is not None:
            return fast
    container = _open(raw)
    if raw.fmt != "pdb":
        _block(container, raw)
    numbers = _model_numbers(raw.name, model, model_count(container, raw.name))
    wide_chain_ids = raw.fmt == "pdb" and _has_wide_chain_ids(raw.data)
    out = []
    for m in numbers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if isinstance(container, pdb.PDBFile):
                    try:
                        atoms = container.get_structure(model=m, altloc="all", extra_fields=_EXTRA_FIELDS)
                    except ValueError:
                        container = _fill_blank_fields(container)
                        atoms = container.get_structure(model=m, altloc="all", extra_fields=_EXTRA_FIELDS)
                    if wide_chain_ids:
                        _apply_wide_chain_ids(container, atoms, m)
                else:
                    atoms = pdbx.get_structure(
                        container, model=m, altloc="all", extra_fields=[*_EXTRA_FIELDS, "label_asym_id"]
                    )
        except Exception as exc:  # noqa: BLE001
            raise CorruptStructureError(raw.name, f"cannot read model {m} ({_short(exc)})") from None
        out.append((m, atoms))
    return out


def select_model(
    atoms: AtomArray | AtomArrayStack, model: int | Literal["all"], name: str
) -> list[tuple[int, AtomArray]]:
    """Models of an in-memory ``AtomArray`` / ``AtomArrayStack`` as ``(model number, AtomArray)`` pairs."""
    if isinstance(atoms, AtomArray):
        if model not in (1, "all"):
            raise StructureModelNotFoundError(name, f"model {model} requested, an AtomArray has 1 model")
        return [(1, atoms)]
    n = atoms.stack_depth()
    if model == "all":
        return [(i + 1, atoms[i]) for i in range(n)]
    if not isinstance(model, (int, np.integer)) or isinstance(model, bool) or not 1 <= model <= n:
        raise StructureModelNotFoundError(name, f"model {model!r} requested, stack has {n} model(s)")
    return [(int(model), atoms[int(model) - 1])]
