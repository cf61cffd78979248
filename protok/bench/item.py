"""One chain as the benchmark sees it: a :class:`~protok.structures.ProteinChain` and its per-residue labels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from protok.structures.chain import ProteinChain

__all__ = ["BenchItem"]


@dataclass(frozen=True, eq=False)
class BenchItem:
    """One chain as the benchmark sees it.

    Attributes
    ----------
    id : str
        Unique id (``PDBID_CHAIN`` for ProMod3 chains, ``file:chain`` for full-atom files).
    chain : ProteinChain
        Backbone coordinates and sequence.
    annotations : dict of str to ndarray
        Per-residue arrays of length L: ``dssp`` (<U1, 8-state), ``sasa`` (float32, Å²),
        ``depth`` (float32, Å), ``bfactor`` (float32). Only what the source provides.
    """

    id: str
    chain: ProteinChain
    annotations: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.chain)

    def perturbed(self, coords: np.ndarray) -> BenchItem:
        """The same chain with new coordinates and no coordinate-derived annotations."""
        return BenchItem(self.id, self.chain.with_coords(coords), {})
