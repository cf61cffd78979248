"""protok's own frozen per-chain and per-complex structure types.

Everything downstream (graphs, models, tokenizer, benchmark) consumes :class:`ProteinChain` and
:class:`ProteinComplex`; parsers convert once at the boundary (biotite ``AtomArray`` -> these types).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BACKBONE_ATOMS",
    "PEPTIDE_BOND_MAX",
    "ProteinChain",
    "ProteinComplex",
    "SkippedChain",
    "detect_chain_breaks",
]

#: Backbone atom order of ``ProteinChain.coords`` along axis 1.
BACKBONE_ATOMS: tuple[str, str, str, str] = ("N", "CA", "C", "O")


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class ProteinChain:
    """One protein chain's backbone.

    Attributes
    ----------
    coords : ndarray, shape=(L, 4, 3), dtype=float32
        N, CA, C, O coordinates in Å. Entries whose ``atom_mask`` is False are NaN.
    atom_mask : ndarray, shape=(L, 4), dtype=bool
        True where the backbone atom is present in the file.
    sequence : str
        One-letter amino acids, length L (modified residues mapped to their parent; unknown -> ``X``).
    auth_chain_id, label_chain_id : str
        Author (``auth_asym_id``) and label (``label_asym_id``) chain ids; equal for PDB-format files.
    res_ids : ndarray, shape=(L,), dtype=int32
        Author residue numbers.
    ins_codes : ndarray, shape=(L,), dtype='<U1'
        Insertion codes (``""`` where none).
    b_factors : ndarray, shape=(L,), dtype=float32
        CA B-factor (pLDDT in predicted models); NaN where the residue has no CA or no B-factor.
    is_modified : ndarray, shape=(L,), dtype=bool
        True for modified / HETATM amino acids (MSE, SEP, ...).
    chain_breaks : ndarray, shape=(L,), dtype=bool
        True where residue i is *not* covalently connected to residue i-1 (C(i-1)-N(i) distance above
        the threshold, or an atom needed to tell is missing). Always False for residue 0.
    res_names : ndarray, shape=(L,), dtype='<U5'
        Residue names as in the file (``"MSE"``, ``"ALA"``, ...).
    source : str
        Where the chain came from (path or a description).
    model : int
        1-based model number in a multi-model file.
    """

    coords: np.ndarray
    atom_mask: np.ndarray
    sequence: str
    auth_chain_id: str = "A"
    label_chain_id: str = "A"
    res_ids: np.ndarray = None  # type: ignore[assignment]  # None -> default, filled in __post_init__
    ins_codes: np.ndarray = None  # type: ignore[assignment]  # None -> default, filled in __post_init__
    b_factors: np.ndarray = None  # type: ignore[assignment]  # None -> default, filled in __post_init__
    is_modified: np.ndarray = None  # type: ignore[assignment]  # None -> default, filled in __post_init__
    chain_breaks: np.ndarray = None  # type: ignore[assignment]  # None -> default, filled in __post_init__
    res_names: np.ndarray = None  # type: ignore[assignment]  # None -> default, filled in __post_init__
    source: str = "<memory>"
    model: int = 1

    def __post_init__(self) -> None:
        coords = np.asarray(self.coords, dtype=np.float32)
        if coords.ndim != 3 or coords.shape[1:] != (4, 3):
            raise ValueError(f"{self.source}: coords must have shape (L, 4, 3), got {coords.shape}")
        n = coords.shape[0]
        mask = np.asarray(self.atom_mask, dtype=bool)
        if mask.shape != (n, 4):
            raise ValueError(f"{self.source}: atom_mask must have shape ({n}, 4), got {mask.shape}")
        if len(self.sequence) != n:
            raise ValueError(f"{self.source}: sequence length {len(self.sequence)} != {n} residues")
        coords = coords.copy()
        coords[~mask] = np.nan
        defaults: dict[str, Any] = {
            "res_ids": (np.arange(1, n + 1), np.int32),
            "ins_codes": (np.full(n, "", dtype="<U1"), "<U1"),
            "b_factors": (np.full(n, np.nan), np.float32),
            "is_modified": (np.zeros(n, bool), bool),
            "chain_breaks": (None, bool),
            "res_names": (np.full(n, "UNK", dtype="<U5"), "<U5"),
        }
        object.__setattr__(self, "coords", _readonly(coords))
        object.__setattr__(self, "atom_mask", _readonly(mask))
        for name, (default, dtype) in defaults.items():
            value = getattr(self, name)
            if value is None:
                value = default if default is not None else detect_chain_breaks(coords, mask)
            value = np.asarray(value, dtype=dtype)
            if value.shape != (n,):
                raise ValueError(f"{self.source}: {name} must have shape ({n},), got {value.shape}")
            object.__setattr__(self, name, _readonly(value))

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return int(self.coords.shape[0])

    @property
    def length(self) -> int:
        return len(self)

    @property
    def ca(self) -> np.ndarray:
        """CA coordinates, shape=(L, 3), float32 (NaN where missing)."""
        return self.coords[:, 1]

    @property
    def backbone_complete(self) -> np.ndarray:
        """shape=(L,), bool: N, CA and C all present (a residue frame can be built)."""
        return np.asarray(self.atom_mask[:, :3].all(axis=1))

    @property
    def id(self) -> str:
        return self.auth_chain_id

    def __repr__(self) -> str:
        return (
            f"ProteinChain(auth_chain_id={self.auth_chain_id!r}, length={len(self)}, "
            f"source={self.source!r}, model={self.model})"
        )

    def slice(self, start: int, stop: int) -> ProteinChain:
        """Residues ``start:stop`` as a new chain (the first residue's break flag is reset)."""
        breaks = np.array(self.chain_breaks[start:stop])
        if len(breaks):
            breaks[0] = False
        return ProteinChain(
            coords=self.coords[start:stop],
            atom_mask=self.atom_mask[start:stop],
            sequence=self.sequence[start:stop],
            auth_chain_id=self.auth_chain_id,
            label_chain_id=self.label_chain_id,
            res_ids=self.res_ids[start:stop],
            ins_codes=self.ins_codes[start:stop],
            b_factors=self.b_factors[start:stop],
            is_modified=self.is_modified[start:stop],
            chain_breaks=breaks,
            res_names=self.res_names[start:stop],
            source=self.source,
            model=self.model,
        )

    def with_coords(self, coords: np.ndarray) -> ProteinChain:
        """Same chain, new coordinates (e.g. a rigid motion or noise); mask and annotations kept."""
        return ProteinChain(
            coords=coords,
            atom_mask=self.atom_mask,
            sequence=self.sequence,
            auth_chain_id=self.auth_chain_id,
            label_chain_id=self.label_chain_id,
            res_ids=self.res_ids,
            ins_codes=self.ins_codes,
            b_factors=self.b_factors,
            is_modified=self.is_modified,
            chain_breaks=self.chain_breaks,
            res_names=self.res_names,
            source=self.source,
            model=self.model,
        )


@dataclass(frozen=True)
class SkippedChain:
    """A chain that was not turned into a :class:`ProteinChain`, and why (e.g. nucleic acid)."""

    chain_id: str
    reason: str


@dataclass(frozen=True, eq=False)
class ProteinComplex:
    """The protein chains of one model of one structure file, plus what was set aside.

    Attributes
    ----------
    chains : tuple of ProteinChain
        Protein chains in file order.
    ligands : biotite.structure.AtomArray or None
        Non-polymer, non-water hetero atoms (ligands, ions), kept for binding-site labels.
    waters : int
        Number of water atoms excluded.
    skipped : tuple of SkippedChain
        Chains not parsed as protein (nucleic acids, ...), with the reason.
    source : str
    model : int
    """

    chains: tuple[ProteinChain, ...]
    ligands: Any = None
    waters: int = 0
    skipped: tuple[SkippedChain, ...] = field(default_factory=tuple)
    source: str = "<memory>"
    model: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "chains", tuple(self.chains))
        object.__setattr__(self, "skipped", tuple(self.skipped))

    def __len__(self) -> int:
        return len(self.chains)

    def __iter__(self):
        return iter(self.chains)

    def __getitem__(self, chain_id: str) -> ProteinChain:
        for c in self.chains:
            if c.auth_chain_id == chain_id:
                return c
        from protok.errors import ChainNotFoundError

        have = ", ".join(c.auth_chain_id for c in self.chains)
        raise ChainNotFoundError(self.source, f"no protein chain {chain_id!r} (chains: {have})")

    @property
    def chain_ids(self) -> tuple[str, ...]:
        return tuple(c.auth_chain_id for c in self.chains)

    @property
    def num_residues(self) -> int:
        return sum(len(c) for c in self.chains)

    def __repr__(self) -> str:
        return (
            f"ProteinComplex(chains={list(self.chain_ids)}, residues={self.num_residues}, "
            f"ligand_atoms={0 if self.ligands is None else len(self.ligands)}, "
            f"skipped={[s.chain_id for s in self.skipped]}, source={self.source!r}, model={self.model})"
        )


#: Maximum C(i-1)-N(i) distance (Å) for a peptide bond; a longer gap is a chain break.
PEPTIDE_BOND_MAX: float = 2.0


def detect_chain_breaks(
    coords: np.ndarray, mask: np.ndarray, max_dist: float = PEPTIDE_BOND_MAX
) -> np.ndarray:
    """Per-residue break flags from geometry.

    Parameters
    ----------
    coords : ndarray, shape=(L, 4, 3)
    mask : ndarray, shape=(L, 4), dtype=bool
    max_dist : float
        C(i-1)-N(i) distances above this are breaks; so is a missing C(i-1) or N(i).

    Returns
    -------
    ndarray, shape=(L,), dtype=bool
        True where residue i is not bonded to residue i-1; False at i = 0.
    """
    n = coords.shape[0]
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    c_prev = coords[:-1, 2]
    n_next = coords[1:, 0]
    ok = mask[:-1, 2] & mask[1:, 0]
    with np.errstate(invalid="ignore"):
        d = np.linalg.norm(n_next - c_prev, axis=-1)
    out[1:] = ~ok | ~(d <= max_dist)
    return out
