"""Atomic, pickle-free training checkpoints.

A checkpoint is a folder ``<out_dir>/checkpoints/step_XXXXXXXX/`` holding

* ``config.json`` + ``model.safetensors`` - the model, written by :func:`protok.models.io.save_model`
  (so the folder loads directly with ``protok.models.io.load_model``);
* ``optimizer.safetensors`` - every tensor of the optimizer state, keys ``state.<param#>.<name>``;
* ``rng.safetensors`` - torch CPU (and CUDA) generator states of every rank, ``torch_cpu.<rank>``;
* ``trainer_state.json`` - the whole :class:`~protok.training.config.TrainConfig`, step, epoch, schedule
  state (lr), ProVQ alpha, the optimizer's param groups and non-tensor state, numpy / python RNG states,
  the data position (the step: the batch order is a pure function of seed and step) and recent metrics.

Every file is written into a temporary sibling folder, flushed, and the folder is moved into place with
``os.replace``; the pointers ``latest.json`` / ``best.json`` are replaced atomically the same way. So a
crash leaves either the old or the new checkpoint, never half of one. Only the latest and the best
checkpoint folders are kept.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from protok.errors import CheckpointError

__all__ = [
    "CHECKPOINT_DIR",
    "TRAINER_STATE",
    "find_latest_checkpoint",
    "flatten_optimizer_state",
    "load_checkpoint",
    "load_trainer_state",
    "restore_rng_state",
    "rng_state",
    "save_checkpoint",
    "unflatten_optimizer_state",
    "write_json_atomic",
]

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
TRAINER_STATE = "trainer_state.json"
FORMAT_VERSION = 1


# ------------------------------------------------------------------------------------------ file helpers
def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON to ``path`` via a temporary file + ``os.replace`` (readers never see a partial file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ optimizer
def flatten_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (for safetensors) and JSON-able rest.

    Returns
    -------
    tensors : dict of str to Tensor
        ``"state.<param#>.<name>"`` for every tensor in ``state_dict["state"]`` (contiguous CPU copies).
    meta : dict
        ``{"param_groups": [...], "scalars": {"<param#>.<name>": value}}``.
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, st in state_dict["state"].items():
        for name, v in st.items():
            key = f"{pid}.{name}"
            if isinstance(v, torch.Tensor):
                tensors[f"state.{key}"] = v.detach().to("cpu").contiguous().clone()
            else:
                scalars[key] = v
    groups = json.loads(json.dumps(state_dict["param_groups"], default=_json_default))
    return tensors, {"param_groups": groups, "scalars": scalars}


def _json_default(o: Any) -> Any:
    if isinstance(o, tuple):
        return list(o)
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer_state` (list-valued ``betas`` become tuples again)."""
    state: dict[Any, dict[str, Any]] = {}
    for key, t in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = t
    for key, v in meta.get("scalars", {}).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


# ------------------------------------------------------------------------------------------ RNG
def _module_generators(model: nn.Module) -> dict[str, torch.Generator]:
    """Every ``torch.Generator`` held as a module attribute (or in a dict attribute), by dotted name.

    Quantizers keep private generators (k-means init, dead-code re-seeding, stochastic ProVQ); their
    states are not in ``state_dict()``, so checkpoints save them here for an exact resume.
    """
    out: dict[str, torch.Generator] = {}
    for mod_name, mod in model.named_modules():
        for attr, v in vars(mod).items():
            base = f"{mod_name}.{attr}" if mod_name else attr
            if isinstance(v, torch.Generator):
                out[base] = v
            elif isinstance(v, dict):
                for key, g in v.items():
                    if isinstance(g, torch.Generator):
                        out[f"{base}[{key}]"] = g
    return out


def rng_state(device: torch.device, model: nn.Module | None = None) -> dict[str, Any]:
    """This process's RNG states: torch CPU / CUDA and the model's own generators as uint8 tensors
    (``generators``: name -> state), numpy and python as JSON lists."""
    out: dict[str, Any] = {"torch_cpu": torch.get_rng_state().clone()}
    if model is not None:
        out["generators"] = {k: g.get_state().clone() for k, g in _module_generators(model).items()}
    if device.type == "cuda":
        out["torch_cuda"] = torch.cuda.get_rng_state(device).clone()
    np_state: Any = np.random.get_state()
    out["numpy"] = [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])]
    py = random.getstate()
    out["python"] = [py[0], list(py[1]), py[2]]
    return out


def restore_rng_state(state: dict[str, Any], device: torch.device, model: nn.Module | None = None) -> None:
    """Set the RNGs from :func:`rng_state` output.

    A module generator saved under a dict attribute (``name[key]``) that does not exist yet is created
    on the device named by ``key`` when possible; saved generators the model no longer has are ignored.
    """
    torch.set_rng_state(state["torch_cpu"].to(torch.uint8).cpu())
    if model is not None and state.get("generators"):
        gens = _module_generators(model)
        for name, st in state["generators"].items():
            g = gens.get(name)
            if g is None and name.endswith("]") and "[" in name:
                g = _create_dict_generator(model, name)
            if g is not None:
                g.set_state(st.to(torch.uint8).cpu())
    if device.type == "cuda" and "torch_cuda" in state:
        torch.cuda.set_rng_state(state["torch_cuda"].to(torch.uint8).cpu(), device)
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    if "python" in state:
        p = state["python"]
        random.setstate((p[0], tuple(p[1]), p[2]))


def _create_dict_generator(model: nn.Module, name: str) -> torch.Generator | None:
    path, key = name[:-1].split("[", 1)
    mod_name, _, attr = path.rpartition(".")
    try:
        mod = model.get_submodule(mod_name) if mod_name else model
        table = getattr(mod, attr)
        g = torch.Generator(device=key)
    except (AttributeError, RuntimeError):
        return None
    if not isinstance(table, dict):
        return None
    table[key] = g
    return g


# ------------------------------------------------------------------------------------------ model I/O
def _save_model(model: nn.Module, folder: Path, card: dict[str, Any] | None = None) -> None:
    """``protok.models.save_model`` for a ProtokModel; plain safetensors (+ config) for other modules."""
    from protok.models import ProtokModel, save_model

    if isinstance(model, ProtokModel):
        save_model(model, folder, card=card)
        return
    from safetensors.torch import save_model as st_save_model

    st_save_model(model, str(folder / "model.safetensors"))
    cfg = getattr(model, "config", None)
    if cfg is not None and hasattr(cfg, "to_dict"):
        (folder / "config.json").write_text(json.dumps({"config": cfg.to_dict()}, indent=2))


def _load_model_weights(model: nn.Module, folder: Path) -> None:
    from protok.models.io import load_weights_into

    load_weights_into(model, folder / "model.safetensors")


# ------------------------------------------------------------------------------------------ save / load
def _step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def _write_optimizer_state(folder: Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Write ``optimizer.safetensors``; return the JSON-able rest of the state (see
    :func:`flatten_optimizer_state`)."""
    tensors, meta = flatten_optimizer_state(optimizer.state_dict())
    save_file(tensors, str(folder / "optimizer.safetensors"), metadata={"format": "protok-optimizer-v1"})
    return meta


def _write_rng_states(folder: Path, rng_states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write the torch and module-generator states of every rank to ``rng.safetensors``; return the numpy
    and python states, one dict per rank."""
    tensors: dict[str, torch.Tensor] = {}
    rest: list[dict[str, Any]] = []
    for r, st in enumerate(rng_states):
        tensors[f"torch_cpu.{r}"] = st["torch_cpu"]
        if "torch_cuda" in st:
            tensors[f"torch_cuda.{r}"] = st["torch_cuda"]
        for gname, gstate in st.get("generators", {}).items():
            tensors[f"gen.{r}.{gname}"] = gstate
        rest.append({key: v for key, v in st.items() if key in ("numpy", "python")})
    save_file(tensors, str(folder / "rng.safetensors"))
    return rest


def _write_trainer_state(folder: Path, state: dict[str, Any]) -> None:
    """Write ``trainer_state.json`` (sorted keys) and flush it to disk."""
    with open(folder / TRAINER_STATE, "w") as fh:
        json.dump(state, fh, indent=2, sort_keys=True, default=_json_default)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_files(folder: Path) -> None:
    """Flush every file directly in ``folder`` to disk."""
    for f in folder.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())


def _write_checkpoint_files(
    folder: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    state: dict[str, Any],
    rng_states: list[dict[str, Any]],
    card: dict[str, Any] | None,
) -> None:
    """Every file of a checkpoint (see the module docstring), written and flushed to disk in ``folder``."""
    _save_model(model, folder, card)
    opt_meta = _write_optimizer_state(folder, optimizer)
    rng_json = _write_rng_states(folder, rng_states)
    full = dict(state)
    full.update(
        step=step,
        optimizer=opt_meta,
        rng=rng_json,
        world_size=len(rng_states),
        format_version=FORMAT_VERSION,
    )
    _write_trainer_state(folder, full)
    _fsync_files(folder)


def _move_into_place(tmp: Path, final: Path) -> None:
    """Replace ``final`` (if it exists) by the folder ``tmp``, in the same parent."""
    root = final.parent
    if final.exists():
        trash = root / f".old-{final.name}-{os.getpid()}-{time.monotonic_ns()}"
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, final)
    _fsync_dir(root)


def _update_pointers(root: Path, step: int, name: str, *, is_best: bool, metric: Any) -> None:
    """Point ``latest.json`` (and ``best.json`` when ``is_best``) at the checkpoint folder ``name``."""
    write_json_atomic(root / "latest.json", {"step": step, "path": name})
    if is_best:
        write_json_atomic(root / "best.json", {"step": step, "path": name, "metric": metric})


def save_checkpoint(
    out_dir: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    state: dict[str, Any],
    rng_states: list[dict[str, Any]],
    is_best: bool = False,
    card: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically and prune all but the latest and the best.

    Parameters
    ----------
    out_dir : path
        The run folder; the checkpoint goes to ``out_dir/checkpoints/step_XXXXXXXX``.
    model, optimizer
    step : int
        Optimizer steps done.
    state : dict
        JSON-able trainer state (config, schedule, alpha, metrics, ...); ``step`` is added.
    rng_states : list of dict
        :func:`rng_state` of every rank, in rank order.
    is_best : bool
        Also point ``best.json`` at this checkpoint.
    card : dict, optional
        Model card stored in the model's ``config.json`` (training summary).

    Returns
    -------
    Path
        The checkpoint folder.
    """
    root = Path(out_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / _step_dir_name(step)
    tmp = root / f".tmp-{_step_dir_name(step)}-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir()
    try:
        _write_checkpoint_files(
            tmp, model=model, optimizer=optimizer, step=step, state=state, rng_states=rng_states, card=card
        )
        _move_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _update_pointers(root, step, final.name, is_best=is_best, metric=state.get("best"))
    _prune(root)
    return final


def _pointer(root: Path, name: str) -> str | None:
    p = root / name
    if not p.is_file():
        return None
    try:
        return str(json.loads(p.read_text())["path"])
    except (OSError, ValueError, KeyError):
        return None


def _prune(root: Path) -> None:
    keep = {_pointer(root, "latest.json"), _pointer(root, "best.json")}
    for d in root.iterdir():
        if d.is_dir() and d.name.startswith("step_") and d.name not in keep:
            shutil.rmtree(d, ignore_errors=True)
        elif d.name.startswith((".tmp-", ".old-")):
            shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)


def find_latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The folder ``latest.json`` points to under ``out_dir/checkpoints``, or None if there is none."""
    root = Path(out_dir) / CHECKPOINT_DIR
    name = _pointer(root, "latest.json")
    if name is None:
        return None
    path = root / name
    if not (path / TRAINER_STATE).is_file():
        raise CheckpointError(f"{root / 'latest.json'}: points to {path}, which is not a complete checkpoint")
    return path


def load_trainer_state(path: str | Path) -> dict[str, Any]:
    """The JSON trainer state of a checkpoint folder."""
    f = Path(path) / TRAINER_STATE
    try:
        return json.loads(f.read_text())
    except OSError as e:
        raise CheckpointError(f"{f}: cannot read ({e.strerror or e})") from e
    except ValueError as e:
        raise CheckpointError(f"{f}: not valid JSON ({e})") from e


def load_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    rank: int,
    device: torch.device,
) -> dict[str, Any]:
    """Restore model weights, optimizer state and this rank's RNG states; return the trainer state.

    Raises
    ------
    CheckpointError
        Missing files, or weights / optimizer state that do not fit the model.
    """
    path = Path(path)
    state = load_trainer_state(path)
    _load_model_weights(model, path)
    if optimizer is not None:
        opt_file = path / "optimizer.safetensors"
        if not opt_file.is_file():
            raise CheckpointError(f"{path}: no optimizer.safetensors")
        sd = unflatten_optimizer_state(load_file(str(opt_file)), state["optimizer"])
        try:
            optimizer.load_state_dict(sd)
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{opt_file}: does not fit the optimizer ({e})") from e
    rng_file = path / "rng.safetensors"
    if rng_file.is_file():
        tensors = load_file(str(rng_file))
        world = int(state.get("world_size", 1))
        r = rank if rank < world else 0
        if world != _world_size():
            log.warning(
                "%s: saved with %d processes, resuming with %d; RNG streams differ",
                path,
                world,
                _world_size(),
            )
        st: dict[str, Any] = {"torch_cpu": tensors[f"torch_cpu.{r}"]}
        if f"torch_cuda.{r}" in tensors:
            st["torch_cuda"] = tensors[f"torch_cuda.{r}"]
        prefix = f"gen.{r}."
        st["generators"] = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        st.update(state.get("rng", [{}] * world)[r])
        restore_rng_state(st, device, model)
    return state


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
