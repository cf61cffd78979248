"""Column-wise reader of PDB coordinate records: biotite's ``PDBFile`` result, computed with numpy.

biotite's ``PDBFile.read(...).get_structure(...)`` walks every ATOM/HETATM line in Python (about 4 ms for a
200-residue chain). :func:`index_pdb` and :meth:`PDBColumns.get_structure` cut the same fixed columns out of
a byte matrix instead and give exactly biotite's ``get_structure(model=m, altloc="all",
extra_fields=["b_factor", "occupancy"])``: the same records and models, annotations and dtypes, bit-equal
float32 coordinates and the same box.

They take only plainly well-formed files and return ``None`` for anything else (line breaks other than
``\\n``, control or non-ASCII characters in a coordinate record, numbers that are not plain right-aligned
decimals with the decimal point in the same column in every record, hybrid-36 residue numbers, blank
elements, records shorter than 54 columns, ...), so that the caller falls back to biotite, whose messages,
element guesses and repairs then apply unchanged.

Numbers are decoded exactly: a decimal field with digits ``N`` and ``k`` digits after the point is
``N / 10**k`` in float64, which IEEE division rounds correctly, as Python's ``float(text)`` does.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from biotite.structure import AtomArray
from biotite.structure.box import vectors_from_unitcell

__all__ = ["PDBColumns", "index_pdb"]

_WIDTH = 78  # biotite pads lines to 80 columns; the last field read here is the element, columns 77-78
# Characters that str.splitlines() breaks lines on besides "\n" (biotite splits the decoded text with it).
_ASCII_BREAKS = (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
_UTF8_BREAKS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
# Numeric fields (res_id, x, y, z, occupancy, b_factor) as (start, stop) columns, each copied right-aligned
# into 8 bytes (leading spaces change no number) so that all six share one layout.
_NUMBERS = ((22, 26), (30, 38), (38, 46), (46, 54), (54, 60), (60, 66))


def _word(text: bytes) -> tuple[int, int]:
    """(mask, value) that find ``text`` at the start of 8 bytes read as a little-endian uint64."""
    return (1 << 8 * len(text)) - 1, int.from_bytes(text, "little")


_ATOM, _HETA, _HETATM, _MODEL, _CRYST1 = map(_word, (b"ATOM", b"HETA", b"HETATM", b"MODEL", b"CRYST1"))


def _starts_with(heads: np.ndarray, word: tuple[int, int]) -> np.ndarray:
    return (heads & np.uint64(word[0])) == np.uint64(word[1])


_ONES = np.uint64(0x0101010101010101)  # a 1 in every byte of a uint64


@dataclass(frozen=True)
class _Layout:
    """Where the decimal points are in the six numeric fields, and what that makes of their digits."""

    dots: np.ndarray  # (6,) little-endian uint64: byte 1 at the decimal point of each 8-byte field
    weights: np.ndarray  # (48, 6) float64: place value of each digit column in its field's integer
    scale: np.ndarray  # (6,) float64: 10 ** digits after the point


@functools.lru_cache(maxsize=32)
def _layout(dots: bytes) -> _Layout | None:
    """The layout with decimal points where ``dots`` (48 bools) has them; None if a field has two, or the
    residue number has one."""
    dot = np.frombuffer(dots, dtype=bool).reshape(6, 8)
    if dot.sum(axis=1).max() > 1 or dot[0].any():
        return None
    weights = np.zeros((6, 8, 6))
    for f in range(6):
        places = np.flatnonzero(~dot[f])[::-1]  # digit columns, right to left
        weights[f, places, f] = 10.0 ** np.arange(len(places))
    scale = 10.0 ** np.where(dot.any(axis=1), 7 - dot.argmax(axis=1), 0)
    return _Layout(np.ascontiguousarray(dot).view("<u8")[:, 0], weights.reshape(48, 6), scale)


def _numbers(rows: np.ndarray) -> np.ndarray | None:
    """res_id, x, y, z, occupancy, b_factor of every record as float64 (k, 6).

    None unless every field is ``[spaces][-]digits`` with one ``.`` among the digits (none in res_id), in the
    same column in every record, ending in a digit: text that ``float()`` / ``int()`` read, and whose value
    is then exactly this. Each field is checked as one little-endian uint64 of per-byte flags (byte ``j`` =
    character ``j``).
    """
    k = len(rows)
    fields = np.full((k, 6, 8), 32, dtype=np.uint8)  # right-aligned in 8 bytes: leading spaces change nothing
    fields[:, 0, 4:] = rows[:, 22:26]
    fields[:, 1:4] = rows[:, 30:54].reshape(k, 3, 8)
    fields[:, 4:, 2:] = rows[:, 54:66].reshape(k, 2, 6)
    field = fields.reshape(k, 48)
    layout = _layout((field[0] == 46).tobytes())
    if layout is None:
        return None
    digit_value = field - 48  # uint8: wraps around for characters below "0"
    is_digit = digit_value < 10
    digit, space, minus, dot = (m.view("<u8") for m in (is_digit, field == 32, field == 45, field == 46))
    if not (
        (dot == layout.dots).all()
        and ((digit | space | minus | dot) == _ONES).all()
        and (digit >> np.uint64(56)).all()  # the last character is a digit
        # no space or minus right after another character
        and not ((space | minus) & ((space ^ _ONES) << np.uint64(8))).any()
    ):
        return None
    value = (digit_value * is_digit).astype(np.float64) @ layout.weights / layout.scale
    return np.negative(value, out=value, where=minus != 0)  # -(N / s) == (-N) / s, -0.0 included


def _strings(rows: np.ndarray, start: int, stop: int, dtype: str, strip: bool = True) -> np.ndarray:
    """Columns ``start:stop`` of ASCII ``rows`` as strings of ``dtype``, stripped as ``str.strip()`` does."""
    chars = rows[:, start:stop].astype(np.uint32)  # ASCII code = Unicode code point
    if strip and stop - start == 1:
        return (chars * (chars != 32)).view("U1")[:, 0].astype(dtype)  # "U1" code 0 is ""
    text = chars.view(f"U{stop - start}")[:, 0]
    return (np.char.strip(text) if strip else text).astype(dtype)


def _box(line: str) -> np.ndarray | None:
    """The CRYST1 box exactly as biotite computes it; None where biotite drops an invalid record."""
    line = line.ljust(80)
    try:
        a, b, c = float(line[6:15]), float(line[15:24]), float(line[24:33])
        alpha, beta, gamma = (
            np.deg2rad(float(line[s])) for s in (slice(33, 40), slice(40, 47), slice(47, 54))
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return vectors_from_unitcell(a, b, c, alpha, beta, gamma)
    except ValueError:
        return None


@dataclass(frozen=True, eq=False)
class PDBColumns:
    """Where the coordinate records of a PDB file are, by model (built by :func:`index_pdb`).

    Attributes
    ----------
    model_count : int
        Number of models as biotite counts them: ``MODEL`` lines, or 1 for records without any.
    wide_chain_ids : bool
        Some coordinate record has a non-blank column 21 (``formats._has_wide_chain_ids``).
    buf : ndarray of uint8
        File bytes followed by ``_WIDTH`` padding bytes.
    starts, lengths : ndarray of int64
        Byte offset and length of every coordinate (``ATOM*`` / ``HETATM*``) line, in file order.
    model_of : ndarray of int64
        1-based model of every record (0: before the first ``MODEL`` line, in no model).
    box : ndarray or None
        Box vectors from the first ``CRYST1`` record.
    """

    model_count: int
    wide_chain_ids: bool
    buf: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    model_of: np.ndarray
    box: np.ndarray | None

    def get_structure(self, model: int) -> AtomArray | None:
        """biotite's ``get_structure(model=model, altloc="all", extra_fields=["b_factor", "occupancy"])``,
        chain ids from columns 21-22 when :attr:`wide_chain_ids` (as ``formats._apply_wide_chain_ids``).

        Parameters
        ----------
        model : int
            1-based model number, ``1 <= model <= model_count``.

        Returns
        -------
        AtomArray or None
            ``None`` if a record of that model is not plainly well-formed (or the model has no records).
        """
        pick = self.model_of == model
        starts, lengths = self.starts[pick], self.lengths[pick]
        if len(starts) == 0:
            return None
        rows = np.lib.stride_tricks.sliding_window_view(self.buf, _WIDTH)[starts]
        if lengths.min() < _WIDTH:
            rows[np.arange(_WIDTH) >= lengths[:, None]] = 32  # biotite pads every line with spaces
        if rows.min() < 32 or rows.max() > 126:
            return None  # control characters: str.strip() and float() treat them apart from numpy
        numbers = _numbers(rows)
        if numbers is None or ((rows[:, 76] == 32) & (rows[:, 77] == 32)).any():
            return None  # blank elements: biotite guesses them from the atom name
        atoms = AtomArray(len(starts))
        atoms.chain_id = _strings(rows, 20 if self.wide_chain_ids else 21, 22, "U4")
        atoms.res_id = numbers[:, 0].astype(int)
        atoms.ins_code = _strings(rows, 26, 27, "U1")
        atoms.res_name = _strings(rows, 17, 20, "U5")
        atoms.hetero = rows[:, 0] == ord("H")  # an ATOM* / HETATM* record starting with H is HETATM
        atoms.atom_name = _strings(rows, 12, 16, "U6")
        atoms.element = _strings(rows, 76, 78, "U2")
        atoms.set_annotation("b_factor", numbers[:, 5].copy())
        atoms.set_annotation("occupancy", numbers[:, 4].copy())
        atoms.coord = numbers[:, 1:4].astype(np.float32)
        atoms.box = None if self.box is None else self.box.copy()
        atoms.set_annotation("altloc_id", _strings(rows, 16, 17, "U1", strip=False))
        return atoms


def index_pdb(data: bytes) -> PDBColumns | None:
    """Find the coordinate records, models and box of a PDB file as biotite's ``PDBFile.read`` does.

    Parameters
    ----------
    data : bytes
        Decompressed PDB file content.

    Returns
    -------
    PDBColumns or None
        ``None`` if the file has no coordinate records, breaks lines on anything but ``\\n`` (``\\r\\n``
        included), has a non-ASCII coordinate record, or one shorter than 54 columns (a truncated file,
        which the biotite path reports).
    """
    ascii_only = data.isascii()
    if any(c in data for c in _ASCII_BREAKS) or (not ascii_only and any(c in data for c in _UTF8_BREAKS)):
        return None
    n = len(data)
    buf = np.frombuffer(data + b"\n" * _WIDTH, dtype=np.uint8)
    newlines = np.flatnonzero(buf[:n] == 10)
    starts = np.concatenate([[0], newlines + 1])
    ends = np.append(newlines, n)
    if starts[-1] == n:  # str.splitlines() makes no empty line after a final newline
        starts, ends = starts[:-1], ends[:-1]
    heads = np.lib.stride_tricks.sliding_window_view(buf, 8)[starts].view("<u8")[:, 0]
    atom = _starts_with(heads, _ATOM)
    coord = atom | _starts_with(heads, _HETATM)
    if not coord.any():
        return None
    lengths = (ends - starts)[coord]
    if lengths.min() < 54:
        return None
    if not ascii_only and np.maximum.reduceat(buf[:n], starts)[coord].max() > 127:
        return None  # column counts of the decoded text differ from byte counts
    wide = (atom | _starts_with(heads, _HETA)) & (ends - starts > 21)
    box = None
    cryst = np.flatnonzero(_starts_with(heads, _CRYST1))
    if len(cryst):
        try:
            box = _box(data[starts[cryst[0]] : ends[cryst[0]]].decode("utf-8", errors="replace"))
        except Exception:  # noqa: BLE001 - biotite fails on it too: leave the error to biotite
            return None
    model_starts = starts[_starts_with(heads, _MODEL)]
    coord_starts = starts[coord]
    return PDBColumns(
        model_count=max(len(model_starts), 1),
        wide_chain_ids=bool((buf[starts[wide] + 20] != 32).any()),
        buf=buf,
        starts=coord_starts,
        lengths=lengths,
        model_of=np.searchsorted(model_starts, coord_starts, side="right")
        if len(model_starts)
        else np.ones(len(coord_starts), dtype=np.int64),
        box=box,
    )
