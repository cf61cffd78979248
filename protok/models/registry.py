"""Versioned, frozen names of shipped protok models -> folders inside the package.

A released name never changes meaning: retraining gives a new name (``...-v2``). Each folder under
``protok/models/weights/<name>/`` holds ``config.json`` and ``model.safetensors`` (see
:mod:`protok.models.io`).
"""

from __future__ import annotations

from pathlib import Path

from protok.errors import ModelNotFoundError

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_REGISTRY",
    "WEIGHTS_DIR",
    "available_models",
    "list_models",
    "resolve_model",
]

#: Folder holding the shipped model folders.
WEIGHTS_DIR: Path = Path(__file__).resolve().parent / "weights"

#: Frozen name -> folder name under :data:`WEIGHTS_DIR`.
MODEL_REGISTRY: dict[str, str] = {
    "protok-provq-small-v0": "protok-provq-small-v0",
    "protok-provq-small-v1": "protok-provq-small-v1",
}

#: The model used when none is named.
DEFAULT_MODEL: str = "protok-provq-small-v1"


def list_models() -> list[str]:
    """All registered model names (shipped or not), sorted."""
    return sorted(MODEL_REGISTRY)


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


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
