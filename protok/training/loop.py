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
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from protok.errors import CheckpointError, ConfigError
from protok.training.checkpoint import (
    find_latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
)
from protok.training.config import RunConfig, TrainConfig, load_config
from protok.training.data import (
    StepBatchSampler,
    TrainingData,
    load_training_data,
    make_train_loader,
    make_val_loader,
)
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

if TYPE_CHECKING:
    from protok.training.distill import Distiller

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
    """Number of codes of the model's quantizer (0 when it has none)."""
    q = getattr(model, "quantizer", None)
    n_codes = getattr(q, "codebook_size", None) or getattr(model, "codebook_size", None)
    return int(n_codes) if n_codes else 0


def _alpha(out: Any) -> float | None:
    a = out.stats.get("alpha") if hasattr(out, "stats") else None
    return None if a is None else float(a)


#: Per-chain reconstruction metrics of validation, in the order their keys appear in the results.
_CHAIN_METRICS = ("rmsd", "bb_rmsd", "tm", "lddt")


class _Tally(NamedTuple):
    """Validation results of one rank, or of all: per-chain metrics, per-batch losses, code counts
    (``max(n_codes, 1)`` values) and the first ProVQ alpha seen."""

    per_chain: dict[str, list[float]]
    losses: list[float]
    counts: list[float]
    alpha: float | None


def _chain_metrics(out: Any, batch: Any) -> dict[str, list[float]]:
    """CA-RMSD, backbone RMSD, TM-score and CA-lDDT of every chain of ``batch`` (keys of _CHAIN_METRICS)."""
    from protok.metrics import backbone_rmsd, ca_rmsd, lddt_ca, tm_score

    pred, m = to_dense_batch(out.pred_coords.float(), batch.batch)
    ref, _ = to_dense_batch(batch.coords.float(), batch.batch)
    am, _ = to_dense_batch(batch.atom_mask.bool(), batch.batch)
    am = am & m[..., None]
    return {
        "rmsd": ca_rmsd(pred, ref, am).cpu().tolist(),
        "bb_rmsd": backbone_rmsd(pred, ref, am).cpu().tolist(),
        "tm": tm_score(pred[..., 1, :], ref[..., 1, :], am[..., 1]).cpu().tolist(),
        "lddt": lddt_ca(pred[..., 1, :], ref[..., 1, :], am[..., 1]).cpu().tolist(),
    }


def _tally_batches(
    model: nn.Module,
    loader: Any,
    *,
    device: torch.device,
    progress: float,
    autocast: Callable[[], Any],
    n_codes: int,
) -> _Tally:
    """Run this rank's validation batches in eval mode and tally their results."""
    was_training = model.training
    model.eval()
    counts = torch.zeros(max(n_codes, 1), dtype=torch.float64)
    per_chain: dict[str, list[float]] = {key: [] for key in _CHAIN_METRICS}
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
            if n_codes:
                counts += torch.bincount(idx, minlength=n_codes)[:n_codes].double()
            for key, values in _chain_metrics(out, batch).items():
                per_chain[key] += values
    finally:
        model.train(was_training)
    return _Tally(per_chain, losses, counts.tolist(), alpha)


def _merge_ranks(tallies: list[_Tally], alpha: float | None) -> _Tally:
    """The tallies of all ranks (rank order) as one; ``alpha`` (this rank's) is kept unless it is None."""
    per_chain: dict[str, list[float]] = {key: [] for key in _CHAIN_METRICS}
    losses: list[float] = []
    counts = np.zeros(len(tallies[0].counts))
    for tally in tallies:
        for key in per_chain:
            per_chain[key] += tally.per_chain[key]
        losses += tally.losses
        counts += np.asarray(tally.counts)
        alpha = tally.alpha if alpha is None else alpha
    return _Tally(per_chain, losses, counts.tolist(), alpha)


def _val_results(tally: _Tally, n_codes: int) -> dict[str, float]:
    """The ``val/...`` metrics of :func:`validate` from the tally of all ranks."""
    res: dict[str, float] = {"val/chains": float(len(tally.per_chain["rmsd"]))}
    for key, vals in tally.per_chain.items():
        a = np.asarray(vals, dtype=np.float64)
        a = a[np.isfinite(a)]
        res[f"val/{key}_median"] = float(np.median(a)) if len(a) else float("nan")
        res[f"val/{key}_mean"] = float(a.mean()) if len(a) else float("nan")
    res["val/loss"] = float(np.mean(tally.losses)) if tally.losses else float("nan")
    total = np.asarray(tally.counts)
    n_tok = total.sum()
    if n_codes and n_tok > 0:
        p = total[total > 0] / n_tok
        res["val/usage"] = float((total > 0).sum() / n_codes)
        res["val/perplexity"] = float(np.exp(-(p * np.log(p)).sum()))
    if tally.alpha is not None:
        res["val/alpha"] = float(tally.alpha)
    return res


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
        of the codebook's codes used over all validation residues), ``val/perplexity`` (exp of the entropy
        of the data-set-level code frequencies), ``val/alpha``, ``val/chains``.
    """
    n_codes = _codebook_size(model)
    local = _tally_batches(
        model, loader, device=device, progress=progress, autocast=autocast, n_codes=n_codes
    )
    merged = _merge_ranks(cast(list[_Tally], all_gather_objects(local)), alpha=local.alpha)
    return _val_results(merged, n_codes)


@dataclasses.dataclass(frozen=True)
class _StepOutcome:
    """What one optimizer step leaves for its metrics row and checkpoint."""

    out: Any  # the model's output (loss, losses, stats)
    grad_norm: Tensor
    lr: float
    epoch: int
    progress: float


class _StepTimer:
    """Wall time (data wait + compute), residues and steps since the last train row, and CPU time per step.

    The clock restarts after validation and checkpoints, so neither counts.
    """

    def __init__(self) -> None:
        self.busy, self.residues, self.steps = 0.0, 0, 0
        self.restart()

    def restart(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def step_done(self, residues: int) -> float:
        """Count a finished step of ``residues`` residues; return the process CPU seconds it took."""
        self.residues += residues
        self.steps += 1
        self.busy += time.perf_counter() - self._wall
        return time.process_time() - self._cpu

    def take_rates(self) -> dict[str, float]:
        """``residues_per_s`` and ``s_per_step`` since the last call; resets the counts."""
        rates = {
            "residues_per_s": self.residues / max(self.busy, 1e-9),
            "s_per_step": self.busy / max(self.steps, 1),
        }
        self.busy, self.residues, self.steps = 0.0, 0, 0
        return rates


def _with_graph_knn(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with ``data.knn`` set to the encoder's neighbour count ``k`` when it is 0 or less."""
    if cfg.data.knn > 0:
        return cfg
    enc = getattr(cfg.model, "encoder", None)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, knn=int(getattr(enc, "k", 16))))


def _seed_everything(run: RunConfig) -> None:
    """Seed torch, numpy and python from ``run.seed``; deterministic kernels when ``run.deterministic``."""
    if run.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(run.seed)
    np.random.seed(run.seed % (2**32))
    random.seed(run.seed)


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
        #: Step a warm start (``run.init_from``) began at; the learning rate re-warms from there.
        self.init_step: int | None = None
        #: The frozen teacher of a distillation run (``distill.teacher``), else None.
        self.distiller: Distiller | None = None

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
            "init_step": self.init_step,
        }

    def _card(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "training": {
                "step": self.step,
                "total_steps": cfg.run.total_steps,
                "seed": cfg.run.seed,
                "data": {
                    key: getattr(cfg.data, key)
                    for key in (
                        "promod3",
                        "structures",
                        "max_chains",
                        "crop_length",
                        "val_fraction",
                        "split_seed",
                    )
                },
                "validation": self.last_val,
                "distilled_from": cfg.distill.teacher or None,
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
        """Refuse a checkpoint whose model config differs; warn about changed data / optim / run keys.

        The saved config is read as any config is (fields it predates take their defaults), so adding an
        optional field keeps older checkpoints resumable and is not reported as a change."""
        now = self.config.to_dict()
        try:
            then = TrainConfig.from_dict(saved, source=str(path)).to_dict()
        except ConfigError as e:
            raise CheckpointError(f"{path}: the checkpoint's config is not valid ({e})") from None
        if then["model"] != now["model"]:
            raise CheckpointError(f"{path}: the checkpoint's [model] config differs from the current one")
        for section in ("data", "optim", "run"):
            for key, val in now[section].items():
                if then[section].get(key) != val:
                    log.warning(
                        "resume: %s.%s changed from %r to %r", section, key, then[section].get(key), val
                    )

    # ------------------------------------------------------------------------------------- setup
    def _build(self, d: DistInfo) -> None:
        """The model on this rank's device (parameters equal on every rank) and its optimizer (with a
        distillation teacher, the model's shared parts are the teacher's, frozen, and left out of it)."""
        self.model = self.model_factory(self.config.model).to(d.device)
        if self.config.distill.teacher:
            from protok.training.distill import Distiller

            self.distiller = Distiller(self.config.distill, d.device)
            self.distiller.prepare(self.model)
        broadcast_parameters(self.model)
        self.optimizer = build_optimizer(self.model, self.config.optim)

    def _restore(self, state: dict[str, Any]) -> None:
        """Take the step, best value, alpha, last validation, skipped steps and CPU time of a checkpoint."""
        self.step = int(state["step"])
        self.best = state.get("best")
        self.last_alpha = state.get("alpha")
        self.last_val = state.get("val") or {}
        self.skipped = int(state.get("skipped_steps") or 0)
        self.cpu_s = float(state.get("cpu_s") or 0.0)
        self.init_step = state.get("init_step")

    def _resume_if_asked(self, d: DistInfo) -> bool:
        """Load the latest checkpoint when resuming; return True when one was loaded."""
        assert self.model is not None and self.optimizer is not None
        resume_from = find_latest_checkpoint(self.out_dir) if self.resume else None
        if self.resume and resume_from is None:
            log.info("resume: no checkpoint under %s; starting from step 0", self.out_dir)
        if resume_from is None:
            if d.is_main and (self.out_dir / "checkpoints" / "latest.json").exists():
                log.warning(
                    "%s already holds checkpoints; they will be replaced (use --resume to continue)",
                    self.out_dir,
                )
            return False
        state = load_checkpoint(
            resume_from, model=self.model, optimizer=self.optimizer, rank=d.rank, device=d.device
        )
        self._check_resume_config(state["config"], resume_from)
        self._restore(state)
        log.info("resumed from %s at step %d", resume_from, self.step)
        return True

    def _warm_start(self) -> None:
        """Start from ``run.init_from``'s weights, step and CPU time (see :class:`RunConfig`)."""
        assert self.model is not None
        from protok.models.io import load_weights_into
        from protok.training.checkpoint import load_trainer_state

        src = Path(self.config.run.init_from)
        state = load_trainer_state(src)
        load_weights_into(self.model, src / "model.safetensors", require_training_heads=False)
        step = int(state["step"])
        if step >= self.config.run.total_steps:
            raise ConfigError(
                f"run.init_from: {src} is at step {step}, not before run.total_steps={self.config.run.total_steps}"
            )
        self.step = self.init_step = step
        self.cpu_s = float(state.get("cpu_s") or 0.0)
        self.last_alpha = state.get("alpha")
        log.info("warm start from %s at step %d (fresh optimizer, re-warmed)", src, step)

    def _lr(self) -> float:
        """The schedule's learning rate, re-warmed linearly after a warm start."""
        optim = self.config.optim
        lr = lr_at(self.step, optim, self.config.run.total_steps)
        if self.init_step is not None and optim.warmup_steps > 0:
            lr *= min(1.0, (self.step - self.init_step + 1) / optim.warmup_steps)
        return lr

    def _open_logger(self, d: DistInfo, resumed: bool) -> MetricsLogger:
        """The metrics logger (rank 0 writes); rank 0 also writes the run's ``config.json``."""
        logger = MetricsLogger(self.out_dir, enabled=d.is_main, resume_step=self.step if resumed else None)
        if d.is_main:
            (self.out_dir / "config.json").write_text(self.config.to_json())
        return logger

    def _progress_bar(self, d: DistInfo) -> Any:
        """A tqdm bar on rank 0 when ``run.progress_bar``, else None."""
        if not (d.is_main and self.config.run.progress_bar):
            return None
        from tqdm.auto import tqdm

        total = self.config.run.total_steps
        return tqdm(total=total, initial=self.step, desc="train", unit="step", dynamic_ncols=True)

    # ------------------------------------------------------------------------------------- one step
    def _grad_norm(self, model: nn.Module) -> Tensor:
        """Total gradient norm, after clipping to ``optim.grad_clip`` when that is > 0."""
        clip = self.config.optim.grad_clip
        if clip > 0:
            return torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        return torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])

    def _train_step(self, batch: Any, epoch: int) -> _StepOutcome:
        """Forward, backward, gradient all-reduce and clipping, optimizer step (skipped on every rank when
        the loss or gradient norm is not finite: the step still counts, keeping schedule and data order)."""
        assert self.dist is not None and self.model is not None and self.optimizer is not None
        model, optimizer = self.model, self.optimizer
        total = self.config.run.total_steps
        lr = self._lr()
        for g in optimizer.param_groups:
            g["lr"] = lr
        progress = self.step / total
        batch = batch.to(self.dist.device)
        with self._autocast():
            out = self.distiller.step(model, batch) if self.distiller else model(batch, progress)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        all_reduce_gradients(model)
        gnorm = self._grad_norm(model)
        if _all_finite(out.loss.detach(), gnorm.detach(), self.dist):
            optimizer.step()
        else:
            self.skipped += 1
            optimizer.zero_grad(set_to_none=True)
            log.warning("step %d: non-finite loss or gradient norm; optimizer step skipped", self.step + 1)
        self.step += 1
        self.last_alpha = _alpha(out)
        return _StepOutcome(out, gnorm, lr, epoch, progress)

    def _train_row(self, step: _StepOutcome) -> dict[str, Any]:
        """Loss, gradient norm, loss terms and model stats of a step, averaged over ranks."""
        out = step.out
        vals = {"loss": _to_float(out.loss), "grad_norm": _to_float(step.grad_norm)}
        vals.update({f"loss/{name}": _to_float(v) for name, v in out.losses.items()})
        vals.update({f"stats/{name}": _to_float(v) for name, v in out.stats.items()})
        # mean over ranks (identical keys everywhere)
        if self.dist is not None and self.dist.distributed:
            keys = sorted(vals)
            t = torch.tensor([vals[key] for key in keys], dtype=torch.float64, device=self.dist.device)
            import torch.distributed as tdist

            tdist.all_reduce(t)
            vals = dict(zip(keys, (t / self.dist.world_size).tolist()))
        schedule = {"epoch": step.epoch, "lr": step.lr, "progress": step.progress}
        return {"split": "train", "step": self.step, **schedule, **vals}

    def _log_train_row(self, step: _StepOutcome, timer: _StepTimer, logger: MetricsLogger, bar: Any) -> None:
        """Write a train metrics row every ``run.log_every`` steps and at the last step."""
        if not (self.step % self.config.run.log_every == 0 or self.step == self.config.run.total_steps):
            return
        row = self._train_row(step)
        row.update(timer.take_rates())
        row["skipped_steps"] = self.skipped
        row["cpu_s"] = self.cpu_s
        logger.log(row)
        if bar is not None:
            bar.set_postfix(loss=f"{row['loss']:.3f}", res_s=f"{row['residues_per_s']:.0f}", refresh=False)

    def _validate_if_due(self, val_loader: Any, logger: MetricsLogger, epoch: int) -> bool:
        """Validate every ``run.val_every`` steps and at the last step; return True on a new best."""
        assert self.dist is not None and self.model is not None
        run, total = self.config.run, self.config.run.total_steps
        due = (run.val_every > 0 and self.step % run.val_every == 0) or self.step == total
        if not due or len(val_loader) == 0:
            return False
        self.last_val = validate(
            self.model,
            val_loader,
            device=self.dist.device,
            progress=1.0 if self.distiller else self.step / total,  # a student's tokens are discrete
            autocast=self._autocast,
        )
        logger.log({"split": "val", "step": self.step, "epoch": epoch, **self.last_val})
        value = self.last_val.get(run.best_metric, float("nan"))
        if not self._better(value):
            return False
        self.best = float(value)
        return True

    def _checkpoint_due(self, is_best: bool, stop: bool) -> bool:
        run = self.config.run
        return self.step % run.ckpt_every == 0 or self.step == run.total_steps or is_best or stop

    def _run_steps(self, loader: Any, val_loader: Any, logger: MetricsLogger) -> Path | None:
        """The step loop (see the module docstring for the order within a step); returns the last
        checkpoint written, or None when no step ran."""
        assert self.dist is not None and self.model is not None
        run = self.config.run
        sampler = cast(StepBatchSampler, loader.batch_sampler)
        self.model.train()
        bar = self._progress_bar(self.dist)
        final: Path | None = None
        timer = _StepTimer()
        try:
            for batch in loader:
                step = self._train_step(batch, sampler.epoch_of_step(self.step))
                self.cpu_s += timer.step_done(int(batch.num_nodes) * self.dist.world_size)
                self._log_train_row(step, timer, logger, bar)
                if bar is not None:
                    bar.update(1)
                is_best = self._validate_if_due(val_loader, logger, step.epoch)
                stop = run.stop_at > 0 and self.step == run.stop_at
                if self._checkpoint_due(is_best, stop):
                    final = self._save(step.epoch, step.lr, is_best)
                timer.restart()
                if stop:
                    log.info(
                        "stopping at step %d of %d (run.stop_at); continue with --resume",
                        self.step,
                        run.total_steps,
                    )
                    break
        finally:
            if bar is not None:
                bar.close()
        return final

    # ------------------------------------------------------------------------------------- main
    def fit(self) -> Path:
        """Train to ``run.total_steps``; return the final checkpoint folder."""
        self.dist = d = init_distributed(self.config.run.device)
        self.config = cfg = _with_graph_knn(self.config)
        _seed_everything(cfg.run)
        data: TrainingData = load_training_data(cfg.data)
        self._build(d)
        resumed = self._resume_if_asked(d)
        if not resumed and cfg.run.init_from:
            self._warm_start()
        logger = self._open_logger(d, resumed)
        loader = make_train_loader(
            data,
            cfg.data,
            seed=cfg.run.seed,
            start_step=self.step,
            total_steps=cfg.run.total_steps,
            rank=d.rank,
            world_size=d.world_size,
        )
        val_loader = make_val_loader(data, cfg.data, rank=d.rank, world_size=d.world_size)
        final = self._run_steps(loader, val_loader, logger)
        if final is None:  # nothing left to do (resumed at the end): the latest checkpoint is final
            final = find_latest_checkpoint(self.out_dir)
        assert final is not None or not d.is_main
        return final if final is not None else self.out_dir


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
