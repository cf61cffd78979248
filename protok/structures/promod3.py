"""Reader for the shared ProMod3 backbone archive (``../shared/data/promod3/chains.npz``).

Format (see the data README): residues of all chains concatenated; ``id`` ``PDBID_CHAIN``, ``length``,
``start_resnum``, ``seq`` / ``dssp`` (ASCII bytes), ``ca_milliA`` (CA in 1/1000 Å), ``nco_minus_ca_milliA``
(N, C, O minus CA), ``sasa``, ``depth``. Arrays are loaded once (no pickle); :meth:`Promod3Chains.chain`
slices them, so building one chain costs a few microseconds plus the :class:`ProteinChain` validation.

A *subset* archive (:meth:`Promod3Chains.write_subset`: some chains of a bigger one, same arrays) can carry
the train/validation split of the archive it came from, because a split computed anew on a subset differs:
``split_val`` (uint8 per chain, 1 = validation), ``split_group`` (int64 per chain, the chain's group in the
source split) and ``split_params`` (JSON text: the settings that made the split). Training uses a stored
split instead of splitting again (:func:`protok.training.data.load_training_data`), so a run on the subset
validates on the same held-out chains as a run on the whole archive and never trains on them.

This is the one decoder of the archive (training, benchmark, tests and speed scripts all use it):

* **coordinates** are computed in float32: the milli-Å integers and their sums are exact in float32 and
  the one division by 1000 is correctly rounded, so the result is bit-identical to the data README's float64
  formula rounded to float32 (tested over the whole archive), which is what :class:`ProteinChain` stores;
* **residue numbers** are the deposited ones: ``start_resnum``, ``start_resnum + 1``, ... (the SCOP2 table's
  regions use the same numbering);
* **chain ids**: everything after the first ``_`` of ``PDBID_CHAIN`` (PDB ids contain none).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from protok.errors import CorruptStructureError, EmptyStructureError
from protok.structures.chain import ProteinChain

__all__ = ["Promod3Chains", "StoredSplit"]

_REQUIRED = ("id", "length", "start_resnum", "seq", "ca_milliA", "nco_minus_ca_milliA")
#: Arrays with one row per chain (every other array but ``split_params`` has one row per residue).
_PER_CHAIN = ("id", "length", "start_resnum", "split_val", "split_group")
_SPLIT_KEYS = ("split_val", "split_group", "split_params")


@dataclass(frozen=True)
class StoredSplit:
    """A train/validation split stored in a subset archive, one entry per chain of the archive.

    Attributes
    ----------
    val : ndarray, shape=(n_chains,), dtype=bool
        True for validation chains.
    group : ndarray, shape=(n_chains,), dtype=int64
        Group of each chain in the source split (related chains share one).
    params : dict
        The settings that made the split (``val_fraction``, ``split_seed``, ``min_length``, ``scop``, ...).
    """

    val: np.ndarray
    group: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


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
    def _extra(self, key: str) -> np.ndarray:
        if key not in self._npz.files:
            raise CorruptStructureError(str(self.path), f"missing array {key!r}")
        return self._npz[key]

    @cached_property
    def _dssp(self) -> str:
        return self._extra("dssp").tobytes().decode("ascii")

    @cached_property
    def _sasa(self) -> np.ndarray:
        return self._extra("sasa")

    @cached_property
    def _depth(self) -> np.ndarray:
        return self._extra("depth")

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, i: int) -> ProteinChain:
        return self.chain(i)

    def __contains__(self, chain_id: object) -> bool:
        """Whether the archive holds the chain ``chain_id`` (``PDBID_CHAIN``)."""
        return chain_id in self._index

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

    def sequence(self, i: int) -> str:
        """One-letter sequence of chain ``i`` (no coordinates decoded)."""
        return self._seq[self._span(i)]

    def chain(self, i: int) -> ProteinChain:
        """Chain ``i`` as a :class:`ProteinChain`: source ``"promod3:<id>"``, deposited residue numbers, author
        chain id from the id (see the module docstring)."""
        s = self._span(i)
        i = i % len(self)
        cid = str(self._ids[i])
        chain_id = cid.split("_", 1)[1] if "_" in cid else cid
        n = s.stop - s.start
        return ProteinChain(
            coords=self.coords(i),
            atom_mask=np.ones((n, 4), dtype=bool),
            sequence=self._seq[s],
            auth_chain_id=chain_id,
            label_chain_id=chain_id,
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

    # ------------------------------------------------------------------ subsets and stored splits
    @cached_property
    def stored_split(self) -> StoredSplit | None:
        """The split stored by :meth:`write_subset`, or None (a plain archive, the usual case).

        Raises
        ------
        CorruptStructureError
            The split arrays are incomplete or do not have one entry per chain.
        """
        present = [k for k in _SPLIT_KEYS if k in self._npz.files]
        if not present:
            return None
        if len(present) != len(_SPLIT_KEYS):
            raise CorruptStructureError(str(self.path), f"incomplete stored split: only {present}")
        val = self._npz["split_val"].astype(bool)
        group = self._npz["split_group"].astype(np.int64)
        if val.shape != (len(self),) or group.shape != (len(self),):
            raise CorruptStructureError(str(self.path), "stored split does not have one entry per chain")
        try:
            params = json.loads(str(self._npz["split_params"]))
        except ValueError as exc:
            raise CorruptStructureError(str(self.path), f"split_params is not JSON ({exc})") from None
        return StoredSplit(val=val, group=group, params=params)

    def write_subset(
        self, path: str | os.PathLike[str], indices: Sequence[int], *, split: StoredSplit | None = None
    ) -> Path:
        """Write chains ``indices`` (in that order) to a new archive of the same format.

        Every array of this archive is kept (per-chain arrays by chain, per-residue arrays by residue),
        compressed as ``numpy.savez_compressed``; the file is written beside ``path`` and moved into place.

        Parameters
        ----------
        path : path
            The new ``.npz``.
        indices : sequence of int
            Chains to keep (0-based, unique).
        split : StoredSplit, optional
            A split to store, one entry per element of ``indices``; None keeps no split (an archive that
            already stores one passes its entries on for the chains kept).

        Returns
        -------
        Path
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(np.unique(idx)) != len(idx) or (len(idx) and (idx.min() < 0 or idx.max() >= len(self))):
            raise ValueError(f"indices must be unique chain numbers in [0, {len(self)})")
        if split is not None and (len(split.val) != len(idx) or len(split.group) != len(idx)):
            raise ValueError(f"split has {len(split.val)} entries for {len(idx)} chains")
        rows = (
            np.concatenate([np.arange(self._offsets[i], self._offsets[i + 1]) for i in idx])
            if len(idx)
            else np.zeros(0, np.int64)
        )
        n_res = int(self._offsets[-1])
        arrays: dict[str, np.ndarray] = {}
        for key in self._npz.files:
            if split is not None and key in _SPLIT_KEYS:
                continue
            a = self._npz[key]
            if key == "split_params":
                arrays[key] = a
            elif key in _PER_CHAIN:
                arrays[key] = a[idx]
            elif a.ndim and a.shape[0] == n_res:
                arrays[key] = a[rows]
            else:
                raise CorruptStructureError(
                    str(self.path), f"array {key!r} is neither per chain nor per residue"
                )
        if split is not None:
            arrays["split_val"] = np.asarray(split.val, dtype=np.uint8)
            arrays["split_group"] = np.asarray(split.group, dtype=np.int64)
            arrays["split_params"] = np.array(json.dumps(split.params, sort_keys=True))
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}.npz")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, allow_pickle=False, **arrays)
        os.replace(tmp, out)
        return out
