"""Reader for the shared ProMod3 backbone archive (``../shared/data/promod3/chains.npz``).

Format (see the data README): residues of all chains concatenated; ``id`` ``PDBID_CHAIN``, ``length``,
``start_resnum``, ``seq`` / ``dssp`` (ASCII bytes), ``ca_milliA`` (CA in 1/1000 Å), ``nco_minus_ca_milliA``
(N, C, O minus CA), ``sasa``, ``depth``. Arrays are loaded once (no pickle); :meth:`Promod3Chains.chain`
slices them, so building one chain costs a few microseconds plus the :class:`ProteinChain` validation.
"""

from __future__ import annotations

import os
import zipfile
from functools import cached_property
from pathlib import Path

import numpy as np

from protok.errors import CorruptStructureError, EmptyStructureError
from protok.structures.chain import ProteinChain

__all__ = ["Promod3Chains"]

_REQUIRED = ("id", "length", "start_resnum", "seq", "ca_milliA", "nco_minus_ca_milliA")


class Promod3Chains:
    """The ProMod3 chains archive as a sequence of :class:`ProteinChain`.

    Parameters
    ----------
    path : str or os.PathLike
        Path of ``chains.npz``.

    Examples
    --------
    >>> db = Promod3Chains("../shared/data/promod3/chains.npz")   # doctest: +SKIP
    >>> c = db.chain(db.index("16PK_A")); c.source, len(c)           # doctest: +SKIP
    ('promod3:16PK_A', 415)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise EmptyStructureError(str(self.path), "ProMod3 archive does not exist")
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            missing = [k for k in _REQUIRED if k not in self._npz.files]
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise CorruptStructureError(str(self.path), f"not a readable .npz archive ({exc})") from None
        if missing:
            raise CorruptStructureError(str(self.path), f"missing arrays {missing}")
        self._ids = self._npz["id"].astype(str)
        self._lengths = self._npz["length"].astype(np.int64)
        self._start_resnum = self._npz["start_resnum"].astype(np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._lengths)])
        self._seq = self._npz["seq"].tobytes().decode("ascii")
        self._ca = self._npz["ca_milliA"]
        self._nco = self._npz["nco_minus_ca_milliA"]
        if len(self._seq) != self._offsets[-1] or len(self._ca) != self._offsets[-1]:
            raise CorruptStructureError(
                str(self.path), f"lengths sum to {self._offsets[-1]} but arrays hold {len(self._ca)} residues"
            )
        self._index = {cid: i for i, cid in enumerate(self._ids)}

    # ------------------------------------------------------------------ per-residue extras (lazy)
    @cached_property
    def _dssp(self) -> str:
        return self._npz["dssp"].tobytes().decode("ascii")

    @cached_property
    def _sasa(self) -> np.ndarray:
        return self._npz["sasa"]

    @cached_property
    def _depth(self) -> np.ndarray:
        return self._npz["depth"]

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, i: int) -> ProteinChain:
        return self.chain(i)

    def __repr__(self) -> str:
        return f"Promod3Chains({str(self.path)!r}, chains={len(self)}, residues={int(self._offsets[-1])})"

    @property
    def ids(self) -> np.ndarray:
        """shape=(n_chains,), dtype=str: ``PDBID_CHAIN`` ids."""
        return self._ids

    @property
    def lengths(self) -> np.ndarray:
        """shape=(n_chains,), dtype=int64: residues per chain."""
        return self._lengths

    def index(self, chain_id: str) -> int:
        """Position of ``chain_id`` (e.g. ``"16PK_A"``); raises ``KeyError`` if absent."""
        try:
            return self._index[chain_id]
        except KeyError:
            raise KeyError(f"{self.path}: no chain {chain_id!r}") from None

    def _span(self, i: int) -> slice:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"chain index {i} out of range for {n} chains")
        i = i % n
        return slice(int(self._offsets[i]), int(self._offsets[i + 1]))

    def coords(self, i: int) -> np.ndarray:
        """Backbone of chain ``i``, shape=(L, 4, 3), float32, Å, atoms N, CA, C, O."""
        s = self._span(i)
        ca = self._ca[s].astype(np.float32)
        nco = self._nco[s].astype(np.float32) + ca[:, None, :]
        return np.stack([nco[:, 0], ca, nco[:, 1], nco[:, 2]], axis=1) / np.float32(1000.0)

    def chain(self, i: int) -> ProteinChain:
        """Chain ``i`` as a :class:`ProteinChain` (source ``"promod3:<id>"``, author chain id from the id)."""
        s = self._span(i)
        i = i % len(self)
        cid = self._ids[i]
        n = s.stop - s.start
        return ProteinChain(
            coords=self.coords(i),
            atom_mask=np.ones((n, 4), dtype=bool),
            sequence=self._seq[s],
            auth_chain_id=cid.split("_", 1)[1] if "_" in cid else cid,
            label_chain_id=cid.split("_", 1)[1] if "_" in cid else cid,
            res_ids=np.arange(self._start_resnum[i], self._start_resnum[i] + n, dtype=np.int32),
            source=f"promod3:{cid}",
        )

    def dssp(self, i: int) -> str:
        """8-state DSSP string of chain ``i`` (H G I E B T S C)."""
        return self._dssp[self._span(i)]

    def sasa(self, i: int) -> np.ndarray:
        """Solvent accessible surface area per residue, shape=(L,), int16, Å²."""
        return self._sasa[self._span(i)]

    def depth(self, i: int) -> np.ndarray:
        """Residue depth, shape=(L,), float16, Å."""
        return self._depth[self._span(i)]
