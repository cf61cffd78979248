"""Save and load :class:`~protok.models.model.ProtokModel` as ``config.json`` + ``model.safetensors``.

Only JSON and safetensors are ever read: no pickle, no ``torch.load``. ``config.json`` holds::

    {"format": "protok-model", "format_version": 1, "protok_version": "...",
     "config": ModelConfig.to_dict(), "card": {...}}

Both files are written atomically (a temporary file in the same folder, then ``os.replace``). Released
models leave out the weights of training-only heads (``save_model(..., training_heads=False)``);
:func:`load_model` builds such a model whatever its config says about those heads.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from protok.errors import CheckpointError, ConfigError
from protok.models.model import TRAINING_ONLY_MODULES, ModelConfig, ProtokModel
from protok.models.registry import model_folder

__all__ = [
    "CONFIG_NAME",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "load_model",
    "load_weights_into",
    "read_config",
    "save_model",
]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_NAME = "protok-model"
FORMAT_VERSION = 1


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _training_only(name: str) -> bool:
    """True for a state-dict key of a :data:`~protok.models.model.TRAINING_ONLY_MODULES` submodule."""
    return name.split(".", 1)[0] in TRAINING_ONLY_MODULES


def save_model(
    model: ProtokModel,
    directory: str | os.PathLike,
    card: dict | None = None,
    *,
    training_heads: bool = True,
) -> Path:
    """Write ``model`` to ``directory`` (created if needed) as config.json + model.safetensors.

    Parameters
    ----------
    model : ProtokModel
    directory : path
    card : dict, optional
        JSON-serialisable model card (training data, metrics, license, ...), stored under ``"card"``.
    training_heads : bool
        Keep the weights of training-only heads (:data:`~protok.models.model.TRAINING_ONLY_MODULES`):
        True for training checkpoints, False for released models (the config is written unchanged).

    Returns
    -------
    Path
        The folder.
    """
    from protok import __version__

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "protok_version": __version__,
        "config": model.config.to_dict(),
        "card": card or {},
    }
    text = json.dumps(meta, indent=2, sort_keys=False)
    state = {
        k: v.detach().cpu().contiguous().clone()
        for k, v in model.state_dict().items()
        if training_heads or not _training_only(k)
    }
    _atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(state, tmp, metadata={"format": FORMAT_NAME}))

    def _write_json(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")

    _atomic_write(folder / CONFIG_NAME, _write_json)
    logger.info("saved %s to %s", model.config.name, folder)
    return folder


def load_weights_into(
    model: torch.nn.Module, weights: str | os.PathLike, *, require_training_heads: bool = True
) -> None:
    """Copy a ``model.safetensors`` file into ``model``'s parameters and buffers, in place.

    In place (not ``load_state_dict`` on a new module) so optimizers holding the parameters stay valid:
    training resume uses this too. Weights of training-only heads
    (:data:`~protok.models.model.TRAINING_ONLY_MODULES`) that the model does not have (an inference
    model) are skipped.

    Parameters
    ----------
    model : torch.nn.Module
    weights : path
    require_training_heads : bool
        When False, training-only head tensors the file lacks (released weights) or holds in another shape
        (a head built with other outputs, e.g. a longer window) keep their initial values.

    Raises
    ------
    CheckpointError
        Missing or unreadable file, or tensor names / shapes that do not match the model.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({e})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(k for k in set(state) - set(expected) if not _training_only(k))
    if not require_training_heads:
        left = [
            k
            for k, v in expected.items()
            if _training_only(k) and (k not in state or tuple(state[k].shape) != tuple(v.shape))
        ]
        if left:
            logger.info(
                "%s: no weights of the training-only head(s)' shape for %d tensor(s); left at their initial values",
                weights,
                len(left),
            )
            missing = [k for k in missing if k not in left]
            expected = {k: v for k, v in expected.items() if k not in left}
    if missing or unexpected:
        raise CheckpointError(
            f"{weights}: weights do not match {CONFIG_NAME}: missing {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    bad = [k for k, v in expected.items() if tuple(v.shape) != tuple(state[k].shape)]
    if bad:
        name = bad[0]
        raise CheckpointError(
            f"{weights}: {len(bad)} tensor shape(s) do not match {CONFIG_NAME}, e.g. {name}: "
            f"file {tuple(state[name].shape)} vs config {tuple(expected[name].shape)}"
        )
    with torch.no_grad():
        for k, v in expected.items():
            v.copy_(state[k].to(v.dtype))


def read_config(name_or_path: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """Read a model folder's ``config.json``.

    Returns
    -------
    config : ModelConfig
    meta : dict
        The whole JSON document (``card``, ``format_version``, ``protok_version``, ...).

    Raises
    ------
    ModelNotFoundError
        Not a folder and not a registered name.
    CheckpointError
        Missing or invalid config.json.
    """
    folder = model_folder(name_or_path)
    cfg_path = folder / CONFIG_NAME
    if not cfg_path.is_file():
        raise CheckpointError(
            f"{cfg_path}: missing (a protok model folder needs {CONFIG_NAME} and {WEIGHTS_NAME})"
        )
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise CheckpointError(f'{cfg_path}: not a protok model config (missing "format": "{FORMAT_NAME}")')
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{cfg_path}: format_version {version!r} is not supported (this protok reads <= {FORMAT_VERSION})"
        )
    try:
        config = ModelConfig.from_dict(meta.get("config", {}), source=str(cfg_path), key="config")
    except ConfigError as e:
        raise CheckpointError(f"invalid model config: {e}") from None
    return config, meta


def load_model(
    name_or_path: str | os.PathLike, device: str | torch.device = "cpu", *, inference: bool = False
) -> ProtokModel:
    """Load a model folder or a registered model name, in eval mode.

    Parameters
    ----------
    name_or_path : str or path
        A folder written by :func:`save_model`, or a name from :func:`protok.models.list_models`.
    device : str or torch.device
    inference : bool
        Build the inference form of the encoder where the config allows it (see :class:`ProtokModel`):
        same tokens, no e3nn import.

    Returns
    -------
    ProtokModel
        In eval mode, on ``device``.

    Raises
    ------
    ModelNotFoundError
        Neither an existing folder nor a registered (and installed) name.
    CheckpointError
        Missing/corrupt files, or weights that do not match the config (names or shapes).
    """
    folder = model_folder(name_or_path)
    config, meta = read_config(folder)
    model = ProtokModel(config, inference=inference)
    load_weights_into(model, folder / WEIGHTS_NAME, require_training_heads=False)
    model.card = meta.get("card", {})
    return model.to(device).eval()
