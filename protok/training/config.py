"""Typed configuration tree of a training run, read from TOML or YAML and overridable by dotted keys.

A config file has one table per section::

    [model]               # protok.models.ModelConfig; ``preset`` picks MODEL_PRESETS[...] as the base,
    preset = "small"      # or a released model's saved config (a name or folder)
    [model.quantizer]
    kind = "provq"
    [data]                # DataConfig
    [optim]               # OptimConfig
    [run]                 # RunConfig
    [distill]             # DistillConfig (protok.training.distill); off unless ``teacher`` is set

A file may start from another (``extends = "base.toml"``, relative to it) and set only what differs.

Sections are read with :func:`protok.config.config_from_dict`: unknown keys and values of the wrong type
raise :class:`protok.errors.ConfigError` naming the file and the dotted key. The configs are frozen. The
resolved tree (``TrainConfig.to_dict()``) is saved inside every checkpoint.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protok.config import config_from_dict, config_to_dict
from protok.errors import ConfigError, ModelNotFoundError
from protok.models.model import MODEL_PRESETS, ModelConfig

__all__ = [
    "DataConfig",
    "DistillConfig",
    "OptimConfig",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "load_config",
    "parse_override",
]


@dataclass(frozen=True)
class DataConfig:
    """Where training chains come from and how they are cropped, split and batched.

    Attributes
    ----------
    promod3 : str or None
        Path of the ProMod3 ``chains.npz`` (the shared data folder's README describes it); relative paths are resolved
        against the config file's folder. None to use no ProMod3 chains.
    scop : str or None
        Path of ``scop2.tsv``; chains with SCOP2 labels are split by superfamily. None: sequence only.
    structures : list of str
        Directories (searched recursively for .pdb/.cif/.ent/.bcif, optionally .gz) or glob patterns of
        structure files. Every protein chain of the first model is used; unreadable files are logged and
        skipped.
    max_chains : int
        Use only the first ``max_chains`` ProMod3 chains (0 = all); for tiny runs and tests.
    min_length : int
        Chains with fewer residues are not used (counted in the log).
    crop_length : int
        Training chains longer than this are cropped to one random contiguous window of this length
        (a new window each epoch); validation chains are cropped to their first ``val_crop_length``.
    val_crop_length : int
        Validation chains longer than this are cut to their first ``val_crop_length`` residues (0 = never).
    val_fraction : float
        Target fraction of chains in the validation split.
    max_val_chains : int
        Evaluate on at most this many validation chains (the first ones in id order; 0 = all).
    split_seed : int
        Seed of the split hashing (keep it fixed across the runs you compare).
    batch_size : int
        Chains per batch per process (the global batch is ``batch_size * world_size``).
    num_workers : int
        DataLoader worker processes that build graphs (0 = in the main process).
    knn : int
        Neighbours per residue in the residue graph (``protok.graph.build_graph(k=...)``); 0 (default)
        uses the model's ``encoder.k``.
    coord_noise : float
        Training only: isotropic Gaussian noise (Å, per axis) added to the coordinates the *encoder* sees
        (graph features); the decoder's targets stay the clean coordinates. Teaches the tokens to be stable
        under coordinate error (the benchmark's weakest point of the v0 models: a third of the tokens change
        under 0.1 Å noise). Drawn per (chain, epoch) from the crop's seed, so resume stays exact. 0 = off.
    crop_schedule : list of [float, int, int]
        Crop-length curriculum: ``[start, crop_length, batch_size]`` phases, ``start`` the fraction of
        training where a phase begins (the first at 0.0, increasing). Within a phase every training crop
        has that length and every step that many chains (e.g. ``[[0.0, 128, 8], [0.5, 256, 4],
        [0.8, 384, 3]]``: longer contexts later, about the same residues per step). Empty (default): one
        phase of ``crop_length`` and ``batch_size``.
    """

    promod3: str | None = None
    scop: str | None = None
    structures: list[str] = field(default_factory=list)
    max_chains: int = 0
    min_length: int = 20
    crop_length: int = 256
    val_crop_length: int = 512
    val_fraction: float = 0.05
    max_val_chains: int = 256
    split_seed: int = 0
    batch_size: int = 4
    num_workers: int = 0
    knn: int = 0
    coord_noise: float = 0.0
    crop_schedule: list[list[float]] = field(default_factory=list)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warmup then cosine decay to ``min_lr_ratio * lr``.

    Attributes
    ----------
    lr : float
    betas : list of float
        Two values.
    eps : float
    weight_decay : float
        Applied to tensors with 2+ dimensions only (not to biases, norms or 1-d parameters).
    warmup_steps : int
    min_lr_ratio : float
    grad_clip : float
        Max global gradient L2 norm (0 = no clipping).
    """

    lr: float = 3e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    eps: float = 1e-8
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0


@dataclass(frozen=True)
class RunConfig:
    """Length, output, logging and checkpointing of a run.

    Attributes
    ----------
    out_dir : str
        Run folder (checkpoints/, metrics.jsonl, metrics.csv); relative to the current directory.
    total_steps : int
        Optimizer steps; ``progress = step / total_steps`` is passed to the model (ProVQ schedule).
    seed : int
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Under torchrun each
        process uses ``cuda:LOCAL_RANK``.
    bf16 : bool
        bf16 autocast (CUDA only; ignored on CPU).
    log_every : int
        Write a train metrics row every this many steps.
    val_every : int
        Validate every this many steps (and at the end; 0 = only at the end).
    ckpt_every : int
        Save a checkpoint every this many steps (and at the end).
    best_metric : str
        Validation metric deciding the kept "best" checkpoint (lower is better for ``rmsd*``/``loss*``,
        higher otherwise).
    progress_bar : bool
        tqdm bar on rank 0.
    deterministic : bool
        ``torch.use_deterministic_algorithms(True, warn_only=True)``.
    stop_at : int
        Stop this invocation after this step (writing a checkpoint) although ``total_steps`` is larger;
        continue later with ``--resume``. For time-limited jobs; 0 = run to ``total_steps``.
    init_from : str
        Warm start (a fine-tune phase): a checkpoint folder whose weights start this run, which then
        continues from that checkpoint's step (so the learning-rate, ProVQ and loss schedules go on where
        they were) with a fresh optimizer, re-warmed over ``optim.warmup_steps``, and the checkpoint's CPU
        time carried over. The model config may differ in training-only heads (e.g. a token-local head
        added, which starts untrained). Ignored when ``--resume`` finds a checkpoint of this run. "" = off.
    """

    out_dir: str = "runs/default"
    total_steps: int = 1000
    seed: int = 0
    device: str = "auto"
    bf16: bool = True
    log_every: int = 1
    val_every: int = 500
    ckpt_every: int = 500
    best_metric: str = "val/rmsd_median"
    progress_bar: bool = True
    deterministic: bool = False
    stop_at: int = 0
    init_from: str = ""


@dataclass(frozen=True)
class DistillConfig:
    """Distillation of a released model's encoder into the config's (cheaper) one.

    Attributes
    ----------
    teacher : str
        Model name or folder whose tokens the student learns; "" = an ordinary training run.
    init_encoder : bool
        Start the student's encoder from the teacher's parameters of the same name and shape (its first
        layers, its input embeddings and readout), the rest at their initial values.
    vector_weight : float
        Weight of the vector term: the student's vectors against the teacher's, in code-cell units.
    code_weight : float
        Weight of the cross-entropy of the teacher's codes under the student's distances.
    temperature : float
        Softmax temperature of that cross-entropy, in units of the teacher's mean margin between its
        nearest and second-nearest code (squared distances).
    """

    teacher: str = ""
    init_encoder: bool = True
    vector_weight: float = 1.0
    code_weight: float = 1.0
    temperature: float = 1.0


def _small_preset() -> ModelConfig:
    return ModelConfig.preset("small")


@dataclass(frozen=True)
class TrainConfig:
    """The whole run: ``model``, ``data``, ``optim``, ``run`` (frozen: derive variants with
    ``dataclasses.replace``, or apply overrides to the dict before :meth:`from_dict`)."""

    model: ModelConfig = field(default_factory=_small_preset)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able nested dict (the form saved in checkpoints and accepted by :meth:`from_dict`)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> TrainConfig:
        """Build and validate from a nested dict; ``model.preset`` names the base of ``[model]``.

        Raises
        ------
        ConfigError
            Unknown key, wrong type or out-of-range value, naming ``source`` and the dotted key.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: top level must be a table, got {type(data).__name__}")
        model = ModelConfig.from_dict(_model_dict(data.get("model", {}), source), source=source, key="model")
        cfg = config_from_dict(cls, {**data, "model": model}, source=source)
        cfg.validate(source)
        return cfg

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def validate(self, source: str = "<config>") -> None:
        """Range checks that types alone do not catch."""
        checks = [
            (self.run.total_steps >= 1, "run.total_steps must be >= 1"),
            (self.data.batch_size >= 1, "data.batch_size must be >= 1"),
            (self.data.crop_length >= 1, "data.crop_length must be >= 1"),
            (0.0 <= self.data.val_fraction < 1.0, "data.val_fraction must be in [0, 1)"),
            (self.data.num_workers >= 0, "data.num_workers must be >= 0"),
            (len(self.optim.betas) == 2, "optim.betas must have two values"),
            (self.optim.lr > 0, "optim.lr must be > 0"),
            (self.optim.warmup_steps >= 0, "optim.warmup_steps must be >= 0"),
            (self.run.ckpt_every >= 1, "run.ckpt_every must be >= 1"),
            (self.run.log_every >= 1, "run.log_every must be >= 1"),
            (self.run.val_every >= 0, "run.val_every must be >= 0"),
            (self.run.stop_at >= 0, "run.stop_at must be >= 0"),
            (self.distill.temperature > 0, "distill.temperature must be > 0"),
            (
                self.distill.vector_weight >= 0 and self.distill.code_weight >= 0,
                "distill.vector_weight and distill.code_weight must be >= 0",
            ),
            (
                _valid_schedule(self.data.crop_schedule),
                "data.crop_schedule must be [start, crop, batch] "
                "phases, the first starting at 0.0, starts increasing, crops and batches >= 1",
            ),
            (
                self.data.promod3 is not None or len(self.data.structures) > 0,
                "no data: set data.promod3 and/or data.structures",
            ),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(f"{source}: {msg}")


def _valid_schedule(schedule: list[list[float]]) -> bool:
    if not schedule:
        return True
    try:
        starts = [float(p[0]) for p in schedule]
        ok = all(len(p) == 3 and int(p[1]) >= 1 and int(p[2]) >= 1 for p in schedule)
    except (TypeError, ValueError, IndexError):
        return False
    return ok and starts[0] == 0.0 and all(a < b < 1.0 for a, b in zip(starts, starts[1:], strict=False))


# ---------------------------------------------------------------------------------------------- parsing
def _model_dict(d: object, source: str) -> dict[str, Any]:
    """The ``[model]`` table as a full ModelConfig dict: the preset's (or the defaults') deep-updated."""
    if not isinstance(d, Mapping):
        raise ConfigError(f"{source}: [model] must be a table")
    d = dict(d)
    preset = d.pop("preset", None)
    if preset is None:
        base = ModelConfig().to_dict()
    elif isinstance(preset, str) and preset in MODEL_PRESETS:
        base = MODEL_PRESETS[preset].to_dict()
    elif isinstance(preset, str):
        base = _released_model_config(preset, source)
    else:
        raise ConfigError(f"{source}: model.preset must be a string, got {type(preset).__name__}")
    return _deep_update(base, d, source, "model")


def _released_model_config(name: str, source: str) -> dict[str, Any]:
    """The saved config of a released model (name or folder) as a ``[model]`` base."""
    from protok.models.io import read_config

    try:
        config, _ = read_config(name)
    except ModelNotFoundError:
        raise ConfigError(
            f"{source}: model.preset {name!r} is neither a preset ({sorted(MODEL_PRESETS)}) nor a model"
        ) from None
    return config.to_dict()


def _deep_update(
    base: dict[str, Any], upd: dict[str, Any], source: str, prefix: str, *, strict: bool = True
) -> dict[str, Any]:
    """``base`` with ``upd`` on top: tables merge key by key, other values replace. ``strict``: a key
    ``base`` lacks is an error (naming ``source`` and the dotted key) instead of an addition."""
    out = copy.deepcopy(base)
    for k, v in upd.items():
        key = f"{prefix}.{k}" if prefix else k
        if strict and k not in out:
            raise ConfigError(f"{source}: unknown key {key!r}; known: {sorted(out)}")
        if isinstance(out.get(k), dict) and isinstance(v, dict):
            out[k] = _deep_update(out[k], v, source, key, strict=strict)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"optim.lr=3e-4"`` into ``(["optim", "lr"], 3e-4)``.

    The value is read as a TOML value (numbers, booleans, quoted strings, ``[lists]``); anything that is
    not valid TOML is taken as a plain string (``run.out_dir=runs/x``).
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. optim.lr=3e-4")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def apply_overrides(d: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of the raw config dict with ``KEY=VALUE`` overrides set (tables created as needed)."""
    out = copy.deepcopy(d)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for p in path[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {text!r}: {p!r} is a value, not a table")
            node = nxt
        node[path[-1]] = value
    return out


def _read_raw(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    try:
        text = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror or e})") from e
    if suffix == ".toml":
        try:
            raw = tomllib.loads(text.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: invalid TOML ({e})") from e
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text.decode("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: invalid YAML ({e})") from e
    elif suffix == ".json":
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: invalid JSON ({e})") from e
    else:
        raise ConfigError(f"{path}: unknown config format {suffix!r}; use .toml, .yaml/.yml or .json")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a table/mapping")
    return raw


def _resolve_data_paths(raw: dict[str, Any], base: Path) -> None:
    """Make relative data paths relative to the config file's folder (not the current directory)."""
    data = raw.get("data")
    if not isinstance(data, dict):
        return
    for key in ("promod3", "scop"):
        v = data.get(key)
        if isinstance(v, str) and v and not Path(v).is_absolute():
            data[key] = str((base / v).resolve())
    structs = data.get("structures")
    if isinstance(structs, list):
        data["structures"] = [
            str(base / s) if isinstance(s, str) and not Path(s).is_absolute() else s for s in structs
        ]


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML / YAML / JSON config file, apply ``KEY=VALUE`` overrides, validate.

    Relative ``data.promod3``, ``data.scop`` and ``data.structures`` paths are resolved against the
    config file's folder; ``run.out_dir`` stays relative to the current directory. A top-level
    ``extends = "other.toml"`` (relative to the file) reads that config first and puts this one on top.

    Raises
    ------
    ConfigError
        Unreadable file, syntax error, unknown key, wrong type or out-of-range value.
    """
    path = Path(path)
    raw = apply_overrides(_read_extended(path), overrides)
    return TrainConfig.from_dict(raw, source=str(path))


def _read_extended(path: Path, children: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw config of ``path`` on top of the one its ``extends`` names (a file relative to it, itself
    possibly extending another): tables merge key by key, other values replace. Data paths are resolved
    against the folder of the file that sets them."""
    raw = _read_raw(path)
    _resolve_data_paths(raw, path.resolve().parent)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends must be the path of a config file, got {parent!r}")
    parent_path = (path.resolve().parent / parent).resolve()
    if parent_path in (*children, path.resolve()):
        raise ConfigError(f"{path}: extends {parent!r} makes a cycle")
    return _deep_update(
        _read_extended(parent_path, (*children, path.resolve())), raw, str(path), "", strict=False
    )
