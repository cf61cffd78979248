"""Versioned, frozen names of shipped protok models -> folders inside the package.

A released name never changes meaning: retraining gives a new name (``...-v2``). Each folder under
``protok/models/weights/<name>/`` holds ``config.json`` and ``model.safetensors`` (see
:mod:`protok.models.io`).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from protok.errors import CheckpointError, ModelNotFoundError

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_REGISTRY",
    "WEIGHTS_DIR",
    "ModelSummary",
    "available_models",
    "list_models",
    "model_folder",
    "model_summary",
    "resolve_model",
]

#: Folder holding the shipped model folders.
WEIGHTS_DIR: Path = Path(__file__).resolve().parent / "weights"

#: Frozen name -> folder name under :data:`WEIGHTS_DIR`.
MODEL_REGISTRY: dict[str, str] = {
    "protok-provq-small-v0": "protok-provq-small-v0",
    "protok-provq-small-v1": "protok-provq-small-v1",
    "protok-provq-small-v2": "protok-provq-small-v2",
    "protok-provq-small-v2-fast": "protok-provq-small-v2-fast",
    "protok-provq-small-v2.1": "protok-provq-small-v2.1",
    "protok-provq-small-v2.2": "protok-provq-small-v2.2",
    "protok-provq-small-v2.3": "protok-provq-small-v2.3",
    "protok-provq-small-v2.4": "protok-provq-small-v2.4",
    "protok-provq-small-v2.4-fast": "protok-provq-small-v2.4-fast",
}

#: The model used when none is named.
DEFAULT_MODEL: str = "protok-provq-small-v2.4"


def list_models() -> list[str]:
    """All registered model names (shipped or not), sorted."""
    return sorted(MODEL_REGISTRY)


_CONFIG = "config.json"
_WEIGHTS = "model.safetensors"


def _is_model_dir(path: Path) -> bool:
    return (path / _CONFIG).is_file() and (path / _WEIGHTS).is_file()


def available_models() -> list[str]:
    """Registered names whose folder is actually present (config.json + model.safetensors)."""
    return [name for name in list_models() if _is_model_dir(WEIGHTS_DIR / MODEL_REGISTRY[name])]


def resolve_model(name: str) -> Path:
    """Folder of a registered model.

    Parameters
    ----------
    name : str
        A registered name, e.g. ``"protok-provq-small-v0"``.

    Returns
    -------
    Path
        Folder holding ``config.json`` and ``model.safetensors``.

    Raises
    ------
    ModelNotFoundError
        Unknown name, or a registered model whose files are not installed; the message lists what exists.
    """
    if name not in MODEL_REGISTRY:
        raise ModelNotFoundError(
            f"{name!r} is neither a model folder nor a registered model name; registered: {list_models()}, "
            f"installed: {available_models()}"
        )
    folder = WEIGHTS_DIR / MODEL_REGISTRY[name]
    if not _is_model_dir(folder):
        raise ModelNotFoundError(
            f"registered model {name!r} is not installed (expected config.json and model.safetensors in "
            f"{folder}); installed models: {available_models() or 'none'}"
        )
    return folder


def _follow_training_run(path: Path) -> Path:
    """A training run folder or its ``checkpoints/`` folder -> the checkpoint its ``latest.json`` names."""
    if (path / _WEIGHTS).is_file():
        return path
    for pointer in (path / "latest.json", path / "checkpoints" / "latest.json"):
        if pointer.is_file():
            try:
                target = pointer.parent / str(json.loads(pointer.read_text())["path"])
            except (ValueError, KeyError, TypeError) as e:
                raise CheckpointError(f"{pointer}: unreadable checkpoint pointer ({e})") from None
            return target
    return path


def model_folder(name_or_path: str | os.PathLike[str]) -> Path:
    """The folder of a model, however it is named: the one place that resolves what users pass as a model.

    Every option or argument that asks for a model (``protok tokenize --model``, ``protok bench
    --tokenizers NAME=MODEL``, :func:`protok.load`, ...) accepts the same things.

    Parameters
    ----------
    name_or_path : str or path
        A registered name (``"protok-provq-small-v1"``), a model folder (``config.json`` +
        ``model.safetensors``), or a training run folder (its latest checkpoint).

    Returns
    -------
    Path
        The model folder (its files are checked when the model is loaded).

    Raises
    ------
    ModelNotFoundError
        Neither an existing folder nor a registered, installed name.
    CheckpointError
        An existing file that is not a model folder, or an unreadable training-run pointer.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return _follow_training_run(path)
    if path.exists():
        raise CheckpointError(f"{path}: not a model folder (expected a folder with {_CONFIG} and {_WEIGHTS})")
    return resolve_model(str(name_or_path))


@dataclass(frozen=True)
class ModelSummary:
    """One installed model as ``protok models`` lists it.

    Attributes
    ----------
    name : str
    codebook_size : int
        K, the number of structure codes.
    parameters : int
        Number of weights (encoder, quantizer and decoder).
    size_bytes : int
        Size of ``model.safetensors`` on disk.
    default : bool
        True for :data:`DEFAULT_MODEL`.
    """

    name: str
    codebook_size: int
    parameters: int
    size_bytes: int
    default: bool

    def line(self) -> str:
        """``* NAME  K=512  1.23M parameters  4.9 MB  (default)``: one line for listings."""
        mark = "*" if self.default else " "
        tail = "  (default)" if self.default else ""
        return (
            f"{mark} {self.name}  K={self.codebook_size}  {self.parameters / 1e6:.2f}M parameters  "
            f"{self.size_bytes / 1e6:.1f} MB{tail}"
        )


def _safetensors_parameters(path: Path) -> int:
    """Number of values in a safetensors file, read from its JSON header alone (no tensor is loaded)."""
    with open(path, "rb") as fh:
        try:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        except (struct.error, ValueError) as e:
            raise CheckpointError(f"{path}: not a safetensors file ({e})") from None
    total = 0
    for key, info in header.items():
        if key != "__metadata__":
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            total += count
    return total


def model_summary(name: str) -> ModelSummary:
    """Name, codebook size, parameter count and file size of a registered, installed model.

    Reads only ``config.json`` and the safetensors header (fast, no torch).

    Raises
    ------
    ModelNotFoundError
        Unknown or not installed.
    CheckpointError
        Unreadable ``config.json`` or weights header.
    """
    folder = resolve_model(name)
    try:
        config = json.loads((folder / _CONFIG).read_text(encoding="utf-8"))["config"]
        codebook_size = int(config["quantizer"]["codebook_size"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{folder / _CONFIG}: no quantizer codebook_size ({e})") from None
    weights = folder / _WEIGHTS
    return ModelSummary(
        name=name,
        codebook_size=codebook_size,
        parameters=_safetensors_parameters(weights),
        size_bytes=weights.stat().st_size,
        default=name == DEFAULT_MODEL,
    )
