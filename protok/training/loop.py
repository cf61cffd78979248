"""The training loop: one script for one device or ``torchrun`` (DDP), exact resume, logging, validation.

Per step: ``progress = step / total_steps`` goes to the model (ProVQ hardness); AdamW with linear warmup
and cosine decay (the learning rate is a pure function of the step); bf16 autocast on CUDA only;
gradients averaged across ranks (:mod:`protok.training.distributed`) and clipped to
``optim.grad_clip``. Only rank 0 logs, draws the progress bar and writes checkpoints.

Order within a step: optimizer step -> train metrics row -> validation (every ``run.val_every``) ->
checkpoint (every ``run.ckpt_every``, or when validation found a new best). The batch order and crops
are a pure function of (seed, step) and every RNG state is saved, so ``--resume`` replays the same
steps as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from protok.errors import CheckpointError
from protok.training.checkpoint import (
    find_latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
)
from protok.training.config import TrainConfig, load_config
from protok.training.data import TrainingData, load_training_data, make_train_loader, make_val_loader
from protok.training.distributed import (
    DistInfo,
    all_gather_objects,
    all_reduce_gradients,
    barrier,
    broadcast_parameters,
    cleanup_distributed,
    init_distributed,
)
from protok.training.logging import MetricsLogger
from protok.training.optim import adamw_decay_matrices, warmup_cosine

__all__ = ["Trainer", "build_optimizer", "lr_at", "train", "validate"]

log = logging.getLogger(__name__)


def lr_at(step: int, cfg: Any, total_steps: int) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then cosine to ``min_lr_ratio``.

    Parameters
    ----------
    step : int
    cfg : OptimConfig
    total_steps : int
    """
    return cfg.lr * warmup_cosine(
        step, warmup=cfg.warmup_steps, total=total_steps, min_ratio=cfg.min_lr_ratio
    )


def build_optimizer(model: nn.Module, cfg: Any) -> torch.optim.AdamW:
    """AdamW; weight decay only on parameters with 2+ dimensions (not biases, norms, 1-d vectors)."""
    return adamw_decay_matrices(
        model, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=tuple(cfg.betas), eps=cfg.eps
    )


def _default_model_factory(model_cfg: Any) -> nn.Module:
    from protok.models import ProtokModel

    return ProtokModel(model_cfg)


def _all_finite(loss: Tensor, gnorm: Tensor, d: DistInfo) -> bool:
    """True when loss and gradient norm are finite on every rank."""
    ok = torch.tensor(float(bool(torch.isfinite(loss)) and bool(torch.isfinite(gnorm))), device=d.device)
    if d.distributed:
        import torch.distributed as tdist

        tdist.all_reduce(ok, op=tdist.ReduceOp.MIN)
    return bool(ok.item() > 0)


def _to_float(v: Any) -> float:
    if isinstance(v, Tensor):
        return float(v.detach().float().item())
    return float(v)


def _codebook_size(model: nn.Module) -> int:
    q = getattr(model, "quantizer", None)
    k = getattr(q, "codebook_size", None) or getattr(model, "codebook_size", None)
    return int(k) if k else 0


def _alpha(out: Any) -> float | None:
    a = out.stats.get("alpha") if hasattr(out, "stats") else None
    return None if a is None else float(a)


@torch.no_grad()
def validate(
    model: nn.Module,
    loader: Any,
    *,
    device: torch.device,
    progress: float,
    autocast: Callable[[], Any],
) -> dict[str, float]:
    """Reconstruction and codebook metrics over this rank's validation batches, reduced over all ranks.

    Returns
    -------
    dict
        ``val/rmsd_median`` (CA-RMSD, Å), ``val/bb_rmsd_median``, ``val/tm_median``, ``val/lddt_median``
        (medians over chains) and their means, ``val/loss`` (mean over batches), ``val/usage`` (fraction
        of the K codes used over all validation residues), ``val/perplexity`` (exp of the entropy of the
        data-set-level code frequencies), ``val/alpha``, ``val/chains``.
    """
    from protok.metrics import backbone_rmsd, ca_rmsd, lddt_ca, tm_score

    was_training = model.training
    model.eval()
    k = _codebook_size(model)
    counts = torch.zeros(max(k, 1), dtype=torch.float64)
    per_chain: dict[str, list[float]] = {"rmsd": [], "bb_rmsd": [], "tm": [], "lddt": []}
    losses: list[float] = []
    alpha = None
    try:
        for batch in loader:
            batch = batch.to(device)
            with autocast():
                out = model(batch, progress)
            losses.append(_to_float(out.loss))
            alpha = _alpha(out) if alpha is None else alpha
            idx = out.indices[out.indices >= 0].long().cpu()
            if k:
                counts += torch.bincount(idx, minlength=k)[:k].double()
            pred, m = to_dense_batch(out.pred_coords.float(), batch.batch)
            ref, _ = to_dense_batch(batch.coords.float(), batch.batch)
            am, _ = to_dense_batch(batch.atom_mask.bool(), batch.batch)
            am = am & m[..., None]
            per_chain["rmsd"] += ca_rmsd(pred, ref, am).cpu().tolist()
            per_chain["bb_rmsd"] += backbone_rmsd(pred, ref, am).cpu().tolist()
            per_chain["tm"] += tm_score(pred[..., 1, :], ref[..., 1, :], am[..., 1]).cpu().tolist()
            per_chain["lddt"] += lddt_ca(pred[..., 1, :], ref[..., 1, :], am[..., 1]).cpu().tolist()
    finally:
        model.train(was_training)
    gathered = all_gather_objects((per_chain, losses, counts.tolist(), alpha))
    allc: dict[str, list[float]] = {key: [] for key in per_chain}
    all_losses: list[float] = []
    total = np.zeros(max(k, 1))
    for item in gathered:
        pc: dict[str, list[float]]
        ls: list[float]
        cn: list[float]
        al: float | None
        pc, ls, cn, al = item  # type: ignore[misc]
        for key in allc:
            allc[key] += pc[key]
        all_losses += ls
        total += np.asarray(cn)
        alpha = al if alpha is None else alpha
    res: dict[str, float] = {"val/chains": float(len(allc["rmsd"]))}
    for key, vals in allc.items():
        a = np.asarray(vals, dtype=np.float64)
        a = a[np.isfinite(a)]
        res[f"val/{key}_median"] = float(np.median(a)) if len(a) else float("nan")
        res[f"val/{key}_mean"] = float(a.mean()) if len(a) else float("nan")
    res["val/loss"] = float(np.mean(all_losses)) if all_losses else float("nan")
    n_tok = total.sum()
    if k and n_tok > 0:
        p = total[total > 0] / n_tok
        res["val/usage"] = float((total > 0).sum() / k)
        res["val/perplexity"] = float(np.exp(-(p * np.log(p)).sum()))
    if alpha is not None:
        res["val/alpha"] = float(alpha)
    return res


class Trainer:
    """Runs one training configuration (see the module docstring).

    Parameters
    ----------
    config : TrainConfig
    resume : bool
        Continue from the latest checkpoint under ``run.out_dir`` (a fresh start, with a log line, if
        there is none).
    model_factory : callable, optional
        ``ModelConfig -> nn.Module``; default :class:`protok.models.ProtokModel`.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        resume: bool = False,
        model_factory: Callable[[Any], nn.Module] | None = None,
    ) -> None:
        self.config = config
        self.resume = resume
        self.model_factory = model_factory or _default_model_factory
        self.out_dir = Path(config.run.out_dir)
        self.dist: DistInfo | None = None
        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.step = 0
        self.best: float | None = None
        self.last_val: dict[str, float] = {}
        self.last_alpha: float | None = None
        self.skipped = 0
        #: Process CPU seconds spent in training steps (validation and checkpoints excluded); resumes.
        self.cpu_s = 0.0

    # ------------------------------------------------------------------------------------- helpers
    def _autocast(self) -> Any:
        assert self.dist is not None
        if self.dist.device.type == "cuda" and self.config.run.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        name = self.config.run.best_metric.split("/")[-1]
        lower = name.startswith(("rmsd", "bb_rmsd", "loss"))
        return value < self.best if lower else value > self.best

    def _state(self, epoch: int, lr: float) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "epoch": epoch,
            "schedule": {
                "lr": lr,
                "warmup_steps": self.config.optim.warmup_steps,
                "total_steps": self.config.run.total_steps,
                "progress": self.step / self.config.run.total_steps,
            },
            "alpha": self.last_alpha,
            "data_position": {
                "step": self.step,
                "seed": self.config.run.seed,
                "batch_size": self.config.data.batch_size,
            },
            "best": self.best,
            "skipped_steps": self.skipped,
            "cpu_s": self.cpu_s,
            "best_metric": self.config.run.best_metric,
            "val": self.last_val,
        }

    def _card(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "training": {
                "step": self.step,
                "total_steps": cfg.run.total_steps,
                "seed": cfg.run.seed,
                "data": {
                    k: getattr(cfg.data, k)
                    for k in (
                        "promod3",
                        "structures",
                        "max_chains",
                        "crop_length",
                        "val_fraction",
                        "split_seed",
                    )
                },
                "validation": self.last_val,
                "world_size": self.dist.world_size if self.dist else 1,
                "device": str(self.dist.device) if self.dist else "cpu",
            }
        }

    def _save(self, epoch: int, lr: float, is_best: bool) -> Path | None:
        assert self.dist is not None and self.model is not None and self.optimizer is not None
        states = all_gather_objects(rng_state(self.dist.device, self.model))
        path = None
        if self.dist.is_main:
            path = save_checkpoint(
                self.out_dir,
                model=self.model,
                optimizer=self.optimizer,
                step=self.step,
                state=self._state(epoch, lr),
                rng_states=states,  # type: ignore[arg-type]
                is_best=is_best,
                card=self._card(),
            )
            log.info("checkpoint: %s", path)
        barrier()
        return path

    def _check_resume_config(self, saved: dict[str, Any], path: Path) -> None:
        now = self.config.to_dict()
        if saved.get("model") != now["model"]:
            raise CheckpointError(f"{path}: the checkpoint's [model] config differs from the current one")
        for section in ("data", "optim", "run"):
            for key, val in now[section].items():
                if saved.get(section, {}).get(key) != val:
                    log.warning(
                        "resume: %s.%s changed from %r to %r",
                        section,
                        key,
                        saved.get(section, {}).get(key),
                        val,
                    )

    # ------------------------------------------------------------------------------------- main
    def fit(self) -> Path:
        """Train to ``run.total_steps``; return the final checkpoint folder."""
        cfg = self.config
        self.dist = d = init_distributed(cfg.run.device)
        if cfg.data.knn <= 0:
            enc = getattr(cfg.model, "encoder", None)
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, knn=int(getattr(enc, "k", 16))))
            self.config = cfg
        if cfg.run.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        torch.manual_seed(cfg.run.seed)
        np.random.seed(cfg.run.seed % (2**32))
        random.seed(cfg.run.seed)

        data: TrainingData = load_training_data(cfg.data)
        model = self.model_factory(cfg.model).to(d.device)
        broadcast_parameters(model)
        optimizer = build_optimizer(model, cfg.optim)
        self.model, self.optimizer = model, optimizer

        resume_from = find_latest_checkpoint(self.out_dir) if self.resume else None
        if self.resume and resume_from is None:
            log.info("resume: no checkpoint under %s; starting from step 0", self.out_dir)
        if resume_from is not None:
            state = load_checkpoint(
                resume_from, model=model, optimizer=optimizer, rank=d.rank, device=d.device
            )
            self._check_resume_config(state["config"], resume_from)
            self.step = int(state["step"])
            self.best = state.get("best")
            self.last_alpha = state.get("alpha")
            self.last_val = state.get("val") or {}
            self.skipped = int(state.get("skipped_steps") or 0)
            self.cpu_s = float(state.get("cpu_s") or 0.0)
            log.info("resumed from %s at step %d", resume_from, self.step)
        elif d.is_main and (self.out_dir / "checkpoints" / "latest.json").exists():
            log.warning(
                "%s already holds checkpoints; they will be replaced (use --resume to continue)", self.out_dir
            )

        logger = MetricsLogger(
            self.out_dir, enabled=d.is_main, resume_step=self.step if resume_from is not None else None
        )
        if d.is_main:
            (self.out_dir / "config.json").write_text(cfg.to_json())
        total = cfg.run.total_steps
        loader = make_train_loader(
            data,
            cfg.data,
            seed=cfg.run.seed,
            start_step=self.step,
            total_steps=total,
            rank=d.rank,
            world_size=d.world_size,
        )
        val_loader = make_val_loader(data, cfg.data, rank=d.rank, world_size=d.world_size)
        sampler = loader.batch_sampler
        model.train()
        bar = None
        if d.is_main and cfg.run.progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=self.step, desc="train", unit="step", dynamic_ncols=True)
        final: Path | None = None
        lr = lr_at(self.step, cfg.optim, total)
        busy, residues, steps_since_log = 0.0, 0, 0
        t_iter = time.perf_counter()
        c_iter = time.process_time()
        try:
            for batch in loader:
                epoch = sampler.epoch_of_step(self.step)  # type: ignore[union-attr]
                lr = lr_at(self.step, cfg.optim, total)
                for g in optimizer.param_groups:
                    g["lr"] = lr
                progress = self.step / total
                batch = batch.to(d.device)
                with self._autocast():
                    out = model(batch, progress)
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                all_reduce_gradients(model)
                if cfg.optim.grad_clip > 0:
                    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                else:
                    gnorm = torch.nn.utils.get_total_norm(
                        [p.grad for p in model.parameters() if p.grad is not None]
                    )
                if _all_finite(out.loss.detach(), gnorm.detach(), d):
                    optimizer.step()
                else:  # every rank skips together; the step still counts (keeps the schedule and data order)
                    self.skipped += 1
                    optimizer.zero_grad(set_to_none=True)
                    log.warning(
                        "step %d: non-finite loss or gradient norm; optimizer step skipped", self.step + 1
                    )
                self.step += 1
                self.last_alpha = _alpha(out)
                residues += int(batch.num_nodes) * d.world_size
                steps_since_log += 1
                busy += time.perf_counter() - t_iter
                self.cpu_s += time.process_time() - c_iter

                if self.step % cfg.run.log_every == 0 or self.step == total:
                    row = self._train_row(out, lr, gnorm, epoch, progress)
                    # data wait + compute of the steps since the last row (validation / checkpoints excluded)
                    row["residues_per_s"] = residues / max(busy, 1e-9)
                    row["s_per_step"] = busy / max(steps_since_log, 1)
                    row["skipped_steps"] = self.skipped
                    row["cpu_s"] = self.cpu_s
                    busy, residues, steps_since_log = 0.0, 0, 0
                    logger.log(row)
                    if bar is not None:
                        bar.set_postfix(
                            loss=f"{row['loss']:.3f}", res_s=f"{row['residues_per_s']:.0f}", refresh=False
                        )
                if bar is not None:
                    bar.update(1)

                is_best = False
                do_val = (cfg.run.val_every > 0 and self.step % cfg.run.val_every == 0) or self.step == total
                if do_val and len(val_loader) > 0:
                    self.last_val = validate(
                        model,
                        val_loader,
                        device=d.device,
                        progress=self.step / total,
                        autocast=self._autocast,
                    )
                    logger.log({"split": "val", "step": self.step, "epoch": epoch, **self.last_val})
                    value = self.last_val.get(cfg.run.best_metric, float("nan"))
                    if self._better(value):
                        self.best, is_best = float(value), True
                stop = cfg.run.stop_at > 0 and self.step == cfg.run.stop_at
                if self.step % cfg.run.ckpt_every == 0 or self.step == total or is_best or stop:
                    final = self._save(epoch, lr, is_best)
                t_iter = time.perf_counter()
                c_iter = time.process_time()
                if stop:
                    log.info(
                        "stopping at step %d of %d (run.stop_at); continue with --resume", self.step, total
                    )
                    break
        finally:
            if bar is not None:
                bar.close()
        if final is None:  # nothing left to do (resumed at the end): the latest checkpoint is final
            final = find_latest_checkpoint(self.out_dir)
        assert final is not None or not d.is_main
        return final if final is not None else self.out_dir

    def _train_row(self, out: Any, lr: float, gnorm: Tensor, epoch: int, progress: float) -> dict[str, Any]:
        vals = {"loss": _to_float(out.loss), "grad_norm": _to_float(gnorm)}
        vals.update({f"loss/{k}": _to_float(v) for k, v in out.losses.items()})
        vals.update({f"stats/{k}": _to_float(v) for k, v in out.stats.items()})
        # mean over ranks (identical keys everywhere)
        if self.dist is not None and self.dist.distributed:
            keys = sorted(vals)
            t = torch.tensor([vals[k] for k in keys], dtype=torch.float64, device=self.dist.device)
            import torch.distributed as tdist

            tdist.all_reduce(t)
            vals = dict(zip(keys, (t / self.dist.world_size).tolist()))
        return {"split": "train", "step": self.step, "epoch": epoch, "lr": lr, "progress": progress, **vals}


def train(
    config: TrainConfig | str | Path,
    *,
    resume: bool = False,
    overrides: list[str] | tuple[str, ...] = (),
    model_factory: Callable[[Any], nn.Module] | None = None,
) -> Path:
    """Train a tokenizer; return the final checkpoint folder.

    Parameters
    ----------
    config : TrainConfig or path of a TOML / YAML config
    resume : bool
        Continue from the latest checkpoint in ``run.out_dir``.
    overrides : list of str
        ``KEY=VALUE`` dotted overrides (only with a path).
    model_factory : callable, optional
        ``ModelConfig -> nn.Module`` (default :class:`protok.models.ProtokModel`).

    Examples
    --------
    >>> from protok.training import train
    >>> ckpt = train("configs/tiny.toml", overrides=["run.out_dir=/tmp/tiny"])  # doctest: +SKIP
    """
    if not isinstance(config, TrainConfig):
        config = load_config(config, overrides)
    elif overrides:
        raise ValueError("overrides apply to a config path; use dataclasses.replace on a TrainConfig")
    try:
        return Trainer(config, resume=resume, model_factory=model_factory).fit()
    finally:
        cleanup_distributed()
