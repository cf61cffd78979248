"""Training data: chain sources, the train/validation split, random crops and a step-indexed batch order.

* **Sources.** ProMod3 chains by path (``chains.npz``) and/or structure files (directories searched
  recursively, or glob patterns). Every protein chain of the first model of each file is used; files that
  fail to parse are logged and skipped (never fatal); the count is logged.
* **Crops.** A training chain longer than ``crop_length`` is cut to one contiguous window
  ``[s, s + crop_length)`` with ``s`` uniform in ``[0, L - crop_length]``, drawn from
  ``numpy.random.default_rng([seed, epoch, chain])``: a new window every epoch, the same window for the
  same (seed, epoch, chain). Contiguous windows keep local geometry intact (the decoder reconstructs a real
  backbone segment); chain ends are seen less often than the middle, as in ESM3 / AlphaFold-style crops.
  Validation chains are cut to their first ``val_crop_length`` residues (deterministic).
* **Order.** The sample stream is a pure function of (seed, position): position ``p`` is item
  ``perm_e[p mod n]`` of epoch ``e = p // n``, where ``perm_e`` is a seeded permutation of the training
  chains. Step ``s`` on rank ``r`` of ``w`` ranks with ``b`` chains each takes positions
  ``s*w*b + r*b ... + b - 1``. Resuming at step ``s`` therefore needs nothing but ``s``.
* **Crop curriculum** (``crop_schedule``). Phases of ``(crop length, chains per step)`` by fraction of
  training; positions keep counting across phases (a step of phase ``p`` takes ``w * b_p`` positions), so
  the stream is still a pure function of the step.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch_geometric.data import Batch, Data

from protok.errors import ConfigError, ProtokError
from protok.structures import Promod3Chains, ProteinChain
from protok.training.config import DataConfig
from protok.training.split import SplitResult, read_scop_superfamilies, split_chains

__all__ = [
    "STRUCTURE_SUFFIXES",
    "ChainStore",
    "CropDataset",
    "StepBatchSampler",
    "TrainingData",
    "collate_graphs",
    "crop_window",
    "find_structure_files",
    "load_training_data",
    "make_train_loader",
    "make_val_loader",
]

log = logging.getLogger(__name__)

#: File name endings read as structures when a directory is given.
STRUCTURE_SUFFIXES: tuple[str, ...] = (
    ".pdb",
    ".ent",
    ".cif",
    ".mmcif",
    ".bcif",
    ".pdb.gz",
    ".ent.gz",
    ".cif.gz",
    ".mmcif.gz",
)


# ------------------------------------------------------------------------------------------------ sources
@dataclass
class ChainStore:
    """All usable chains: ids, sequences, lengths and a way to get each :class:`ProteinChain`.

    Attributes
    ----------
    ids : list of str
        Unique ids (``PDBID_CHAIN`` for ProMod3 chains, ``<file stem>_<chain>`` for files).
    sequences : list of str
    lengths : ndarray, shape=(n,), dtype=int64
    """

    ids: list[str]
    sequences: list[str]
    lengths: np.ndarray
    _promod3: Promod3Chains | None
    _promod3_index: np.ndarray  # chain i -> index in the ProMod3 archive, -1 for file chains
    _file_chains: dict[int, ProteinChain]

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, i: int) -> ProteinChain:
        """Chain ``i`` (0-based into ``ids``)."""
        j = int(self._promod3_index[i])
        if j >= 0 and self._promod3 is not None:
            return self._promod3.chain(j)
        return self._file_chains[i]


def find_structure_files(patterns: Sequence[str]) -> list[Path]:
    """Structure files named by directories (searched recursively) or glob patterns, sorted, unique.

    Raises
    ------
    ConfigError
        A pattern matches nothing.
    """
    out: set[Path] = set()
    for pat in patterns:
        p = Path(pat)
        if p.is_dir():
            found = [f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(STRUCTURE_SUFFIXES)]
        elif p.is_file():
            found = [p]
        else:
            found = [Path(f) for f in glob.glob(pat, recursive=True) if Path(f).is_file()]
        if not found:
            raise ConfigError(f"data.structures: {pat!r} matches no structure file")
        out.update(found)
    return sorted(out)


def _file_stem(path: Path) -> str:
    name = path.name
    for suf in sorted(STRUCTURE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return path.stem


def _read_file_chains(paths: Sequence[Path]) -> tuple[list[str], list[ProteinChain]]:
    from protok.structures import read_structure

    ids: list[str] = []
    chains: list[ProteinChain] = []
    failed = 0
    for path in paths:
        try:
            cplx = read_structure(path)
        except (ProtokError, OSError, ValueError) as e:
            failed += 1
            log.warning("skipping %s: %s", path, e)
            continue
        for ch in cplx.chains:
            ids.append(f"{_file_stem(path).upper()}_{ch.auth_chain_id}")
            chains.append(ch)
    if failed:
        log.warning("%d of %d structure files could not be read and were skipped", failed, len(paths))
    return ids, chains


def load_chain_store(cfg: DataConfig) -> ChainStore:
    """Collect chains from ``cfg.promod3`` and ``cfg.structures``; drop chains shorter than ``min_length``.

    Duplicate ids (the same chain from two sources) keep the first one. Counts are logged.
    """
    ids: list[str] = []
    seqs: list[str] = []
    lengths: list[int] = []
    pm_index: list[int] = []
    file_chains: dict[int, ProteinChain] = {}
    seen: set[str] = set()
    short = dup = 0
    pm = None
    if cfg.promod3:
        if not Path(cfg.promod3).is_file():
            raise ConfigError(f"data.promod3: {cfg.promod3} is not a file")
        pm = Promod3Chains(cfg.promod3)
        pm_ids = list(pm.ids)
        pm_len = pm.lengths
        n = len(pm_ids) if cfg.max_chains <= 0 else min(cfg.max_chains, len(pm_ids))
        for j in range(n):
            if pm_len[j] < cfg.min_length:
                short += 1
                continue
            ids.append(str(pm_ids[j]))
            seqs.append(pm.sequence(j))
            lengths.append(int(pm_len[j]))
            pm_index.append(j)
            seen.add(ids[-1])
    if cfg.structures:
        f_ids, f_chains = _read_file_chains(find_structure_files(cfg.structures))
        for cid, ch in zip(f_ids, f_chains):
            if len(ch) < cfg.min_length or int(ch.backbone_complete.sum()) < cfg.min_length:
                short += 1
                continue
            if cid in seen:
                dup += 1
                continue
            seen.add(cid)
            file_chains[len(ids)] = ch
            ids.append(cid)
            seqs.append(ch.sequence)
            lengths.append(len(ch))
            pm_index.append(-1)
    log.info(
        "data: %d chains (%d shorter than %d residues skipped, %d duplicate ids skipped)",
        len(ids),
        short,
        cfg.min_length,
        dup,
    )
    if not ids:
        raise ConfigError("data: no usable chains (check data.promod3 / data.structures / data.min_length)")
    return ChainStore(
        ids=ids,
        sequences=seqs,
        lengths=np.asarray(lengths, dtype=np.int64),
        _promod3=pm,
        _promod3_index=np.asarray(pm_index, dtype=np.int64),
        _file_chains=file_chains,
    )


@dataclass
class TrainingData:
    """Chains and their split. ``train`` / ``val`` index into ``store``."""

    store: ChainStore
    split: SplitResult

    @property
    def train(self) -> np.ndarray:
        return self.split.train

    @property
    def val(self) -> np.ndarray:
        return self.split.val


def load_training_data(cfg: DataConfig) -> TrainingData:
    """Load all chains and split them (see :mod:`protok.training.split`).

    A ProMod3 subset archive that stores the split of its source archive
    (:meth:`protok.structures.promod3.Promod3Chains.write_subset`) is not split again: its stored split is
    used, after checking that it was made with this config's ``val_fraction``, ``split_seed``,
    ``min_length`` and use of ``scop``.
    """
    store = load_chain_store(cfg)
    split = _stored_split(store, cfg)
    if split is None:
        sf = read_scop_superfamilies(cfg.scop) if cfg.scop else None
        split = split_chains(
            store.ids, store.sequences, val_fraction=cfg.val_fraction, superfamilies=sf, seed=cfg.split_seed
        )
    if len(split.train) == 0:
        raise ConfigError("data: the split left no training chains (lower data.val_fraction or add data)")
    return TrainingData(store=store, split=split)


def _stored_split(store: ChainStore, cfg: DataConfig) -> SplitResult | None:
    """The split stored in the ProMod3 archive for the chains of ``store``, or None when it has none."""
    stored = getattr(store._promod3, "stored_split", None)
    if stored is None:
        return None
    if cfg.structures:
        raise ConfigError(
            f"data.promod3: {cfg.promod3} stores the split of the archive it was cut from; it cannot be "
            "combined with data.structures"
        )
    wanted = {
        "val_fraction": cfg.val_fraction,
        "split_seed": cfg.split_seed,
        "min_length": cfg.min_length,
        "scop": bool(cfg.scop),
    }
    made = {k: stored.params.get(k) for k in wanted}
    if made != wanted:
        raise ConfigError(
            f"data.promod3: {cfg.promod3} stores a split made with {made}, but the config asks for {wanted}; "
            "split the whole archive instead"
        )
    j = store._promod3_index
    is_val = stored.val[j]
    log.info(
        "split: stored in %s (from %s): %d train / %d validation",
        cfg.promod3,
        stored.params.get("source", "?"),
        int((~is_val).sum()),
        int(is_val.sum()),
    )
    return SplitResult(
        train=np.nonzero(~is_val)[0].astype(np.int64),
        val=np.nonzero(is_val)[0].astype(np.int64),
        group=stored.group[j].astype(np.int64),
    )


# ------------------------------------------------------------------------------------------------ samples
def crop_window(length: int, crop_length: int, rng: np.random.Generator | None) -> tuple[int, int]:
    """``(start, stop)`` of a contiguous crop: random if ``rng`` is given, else the first residues."""
    if length <= crop_length:
        return 0, length
    start = 0 if rng is None else int(rng.integers(0, length - crop_length + 1))
    return start, start + crop_length


class CropDataset(Dataset):
    """Graphs of (possibly cropped) chains, indexed by ``(chain, epoch)`` pairs.

    Parameters
    ----------
    store : ChainStore
    crop_length : int
        0 = never crop.
    random_crop : bool
        Random window (training) or first residues (validation).
    seed : int
    knn : int
    coord_noise : float
        Gaussian noise (Å) on the encoder's view of the coordinates; the graph's ``coords`` (the decoder
        targets) stay clean. 0 = none.
    """

    def __init__(
        self,
        store: ChainStore,
        crop_length: int,
        random_crop: bool,
        seed: int,
        knn: int,
        coord_noise: float = 0.0,
    ) -> None:
        if coord_noise < 0:
            raise ValueError(f"coord_noise must be >= 0, got {coord_noise}")
        self.store = store
        self.crop_length = crop_length
        self.random_crop = random_crop
        self.seed = seed
        self.knn = knn
        self.coord_noise = coord_noise

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, key: tuple[int, ...]) -> Data:
        """Graph of ``(chain, epoch)``, or ``(chain, epoch, crop_length)`` to override the crop length."""
        from protok.graph import build_graph

        chain_i, epoch = key[0], key[1]
        crop_length = key[2] if len(key) > 2 else self.crop_length
        chain = self.store.get(chain_i)
        rng = np.random.default_rng([self.seed, epoch, chain_i]) if self.random_crop else None
        if crop_length > 0:
            start, stop = crop_window(len(chain), crop_length, rng)
            if (start, stop) != (0, len(chain)):
                chain = chain.slice(start, stop)
        if self.coord_noise > 0 and rng is not None:
            noisy = chain.coords + rng.normal(0.0, self.coord_noise, chain.coords.shape).astype(np.float32)
            g = build_graph(chain.with_coords(noisy), k=self.knn)
            clean = torch.from_numpy(np.ascontiguousarray(chain.coords, dtype=np.float32))
            g.coords = torch.where(g.atom_mask.unsqueeze(-1), clean, torch.zeros(()))  # clean targets
        else:
            g = build_graph(chain, k=self.knn)
        g.sample_chain = torch.tensor([chain_i], dtype=torch.long)
        return g


def collate_graphs(items: list[Data]) -> Batch:
    """PyG ``Batch`` of a list of graphs."""
    return Batch.from_data_list(items)


@dataclass(frozen=True)
class CropPhase:
    """Steps ``[start_step, stop_step)`` take ``batch_size`` chains per rank, cropped to ``crop_length``
    (None: the dataset's own ``crop_length``)."""

    start_step: int
    stop_step: int
    crop_length: int | None
    batch_size: int


def crop_phases(cfg: DataConfig, total_steps: int) -> list[CropPhase]:
    """The crop curriculum of ``cfg`` over ``total_steps`` (one phase when ``crop_schedule`` is empty)."""
    if not cfg.crop_schedule:
        return [CropPhase(0, total_steps, None, cfg.batch_size)]
    schedule = cfg.crop_schedule
    starts = [int(round(float(p[0]) * total_steps)) for p in schedule] + [total_steps]
    return [
        CropPhase(starts[i], starts[i + 1], int(p[1]), int(p[2]))
        for i, p in enumerate(schedule)
        if starts[i + 1] > starts[i]
    ]


class StepBatchSampler(Sampler[list[tuple[int, ...]]]):
    """Yields, for steps ``start_step .. total_steps - 1``, this rank's ``(chain, epoch)`` keys
    (``(chain, epoch, crop_length)`` in a crop curriculum).

    The stream is a pure function of ``(seed, step)`` (see module docstring); no state but the step.

    Parameters
    ----------
    indices : ndarray, shape=(n,), dtype=int64
        Training chain indices (into the store).
    batch_size : int
        Chains per step per rank (when there are no ``phases``).
    seed : int
    start_step, total_steps : int
    rank, world_size : int
    phases : list of CropPhase, optional
        Crop length and chains per step by step (:func:`crop_phases`), covering ``[0, total_steps)``.
    """

    def __init__(
        self,
        indices: np.ndarray,
        batch_size: int,
        seed: int,
        start_step: int,
        total_steps: int,
        rank: int = 0,
        world_size: int = 1,
        phases: list[CropPhase] | None = None,
    ) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        if len(self.indices) == 0:
            raise ValueError("no training chains")
        self.phases = phases or [CropPhase(0, total_steps, None, batch_size)]
        self.seed = seed
        self.start_step = start_step
        self.total_steps = total_steps
        self.rank = rank
        self.world_size = world_size
        self._perm = lru_cache(maxsize=4)(self._permutation)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0x5EED]).permutation(len(self.indices))

    def _phase(self, step: int) -> CropPhase:
        for phase in self.phases:
            if step < phase.stop_step:
                return phase
        return self.phases[-1]

    def _first_position(self, step: int) -> int:
        """Positions (all ranks) taken by the steps before ``step``."""
        done = 0
        for p in self.phases:
            done += (min(step, p.stop_step) - p.start_step) * p.batch_size if step > p.start_step else 0
        if step > self.phases[-1].stop_step:
            done += (step - self.phases[-1].stop_step) * self.phases[-1].batch_size
        return done * self.world_size

    def keys_for_step(self, step: int) -> list[tuple[int, ...]]:
        """The keys of ``step`` on this rank."""
        n = len(self.indices)
        phase = self._phase(step)
        first = self._first_position(step) + self.rank * phase.batch_size
        out = []
        for p in range(first, first + phase.batch_size):
            epoch, within = divmod(p, n)
            key: tuple[int, ...] = (int(self.indices[self._perm(epoch)[within]]), int(epoch))
            out.append(key if phase.crop_length is None else (*key, phase.crop_length))
        return out

    def epoch_of_step(self, step: int) -> int:
        return self._first_position(step) // len(self.indices)

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        for step in range(self.start_step, self.total_steps):
            yield self.keys_for_step(step)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def make_train_loader(
    data: TrainingData,
    cfg: DataConfig,
    *,
    seed: int,
    start_step: int,
    total_steps: int,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader:
    """DataLoader yielding one ``Batch`` per step from ``start_step`` on (graphs built in workers)."""
    ds = CropDataset(
        data.store, cfg.crop_length, random_crop=True, seed=seed, knn=cfg.knn, coord_noise=cfg.coord_noise
    )
    phases = crop_phases(cfg, total_steps)
    sampler = StepBatchSampler(
        data.train, cfg.batch_size, seed, start_step, total_steps, rank, world_size, phases=phases
    )
    return DataLoader(
        ds,
        batch_sampler=sampler,
        collate_fn=collate_graphs,
        num_workers=cfg.num_workers,
        worker_init_fn=_worker_init if cfg.num_workers > 0 else None,
        persistent_workers=False,
        prefetch_factor=4 if cfg.num_workers > 0 else None,
    )


def val_chain_indices(data: TrainingData, cfg: DataConfig, world_size: int = 1) -> np.ndarray:
    """Validation chains used: the first ``max_val_chains`` in id order, a multiple of ``world_size``."""
    val = data.val[np.argsort([data.store.ids[i] for i in data.val], kind="stable")]
    if cfg.max_val_chains > 0:
        val = val[: cfg.max_val_chains]
    return val[: (len(val) // world_size) * world_size]


class _ListSampler(Sampler[list[tuple[int, int]]]):
    def __init__(self, chains: np.ndarray, batch_size: int) -> None:
        self.chains = chains
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for i in range(0, len(self.chains), self.batch_size):
            yield [(int(c), 0) for c in self.chains[i : i + self.batch_size]]

    def __len__(self) -> int:
        return (len(self.chains) + self.batch_size - 1) // self.batch_size


def make_val_loader(
    data: TrainingData, cfg: DataConfig, *, rank: int = 0, world_size: int = 1, workers: int | None = None
) -> DataLoader:
    """DataLoader over this rank's share of the validation chains (first ``val_crop_length`` residues)."""
    chains = val_chain_indices(data, cfg, world_size)[rank::world_size]
    ds = CropDataset(data.store, cfg.val_crop_length, random_crop=False, seed=0, knn=cfg.knn)
    nw = cfg.num_workers if workers is None else workers
    return DataLoader(
        ds,
        batch_sampler=_ListSampler(chains, cfg.batch_size),
        collate_fn=collate_graphs,
        num_workers=nw,
        worker_init_fn=_worker_init if nw > 0 else None,
    )
