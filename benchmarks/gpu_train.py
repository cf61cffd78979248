"""Train a config within a wall-clock budget and export the result (the work of ``benchmarks/gpu_train.sh``).

    python benchmarks/gpu_train.py OUT_DIR [--config configs/gpu.toml] [--set KEY=VALUE ...]
        [--device cuda|cpu] [--train-seconds 450] [--warmup-steps 40] [--steps N] [--max-steps N]

1. **Warm-up.** ``--warmup-steps`` steps of the config (a throw-away run) exercise every code path the real
   run takes (data loading, forward and backward under bf16 autocast, validation, a checkpoint, the export)
   and time it: the seconds per step once the data workers have filled their queue (median of the second
   half), one validation pass and one checkpoint, timed again after the run, the start-up (the warm-up's
   wall time less the rest), and how fast the DataLoader workers build batches (a few batches built on one
   thread here, divided among ``data.num_workers``), since a queue filled during the warm-up can hide a data
   bottleneck.
2. **Plan.** ``run.total_steps`` is the number of steps that fit ``--train-seconds`` (95 %) after the
   start-up and ``--val-points`` validations and checkpoints, at the slower of the step time and the data
   rate (plus 5 %); ``run.val_every`` = ``run.ckpt_every`` = ``total_steps / val-points``. The learning rate
   and ProVQ schedules therefore run to their end. ``--steps`` fixes the count instead.
3. **Training** from step 0 into ``WORK/<model name>-gpu/``, under a guard: a SIGALRM at ``--guard-seconds``
   (default ``--train-seconds`` + 45) interrupts it, and the latest checkpoint (at most ``val_every`` steps
   old) is exported instead of the final one, so a bad estimate still leaves a result in time.
4. **Export** into OUT_DIR (8 files): ``model/`` (``model.safetensors``, ``config.json`` with the model card,
   ``MODEL_CARD.md``; no optimizer state; loads with ``protok.load``), ``metrics.jsonl``, ``metrics.csv``,
   ``val_metrics.csv``, ``learning_curve.png`` (``benchmarks/plot_training.py --val``) and ``summary.json``
   (steps, wall times, device, steps/s, residues/s, final and best validation, the plan and the equivalent
   ``python -m protok.training`` command).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import logging
import math
import platform
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT_FILES = ("metrics.jsonl", "metrics.csv", "val_metrics.csv")
MODEL_FILES = ("model.safetensors", "config.json", "MODEL_CARD.md")
#: Share of the worker processes' time that goes into building batches (the rest: queues, pickling).
WORKER_EFFICIENCY = 0.8

log = logging.getLogger("gpu_train")


class Deadline(Exception):
    """Raised in the main thread when the wall-clock guard fires."""


@contextlib.contextmanager
def wall_clock_guard(seconds: float | None) -> Iterator[None]:
    """Raise :class:`Deadline` after ``seconds`` of wall time (SIGALRM; no guard where there is none).

    The previous SIGALRM handler and timer (pytest-timeout uses them) are put back afterwards.
    """
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise Deadline(f"wall-clock guard: {seconds:.0f} s")

    t0 = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, fire)
    old_remaining, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_remaining > 0:
            left = max(old_remaining - (time.monotonic() - t0), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def _replace_run(cfg: Any, **run: Any) -> Any:
    return dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, **run))


def _train_rows(run_dir: Path) -> list[dict[str, Any]]:
    from protok.training import read_metrics

    return [r for r in read_metrics(run_dir, "train") if r.get("s_per_step") is not None]


def _busy_seconds(rows: list[dict[str, Any]]) -> float:
    """Seconds spent in training steps (data wait + compute; validation and checkpoints excluded)."""
    total, prev = 0.0, 0
    for r in rows:
        total += float(r["s_per_step"]) * (int(r["step"]) - prev)
        prev = int(r["step"])
    return total


def _autocast(trainer: Any) -> Any:
    import torch

    if trainer.dist.device.type == "cuda" and trainer.config.run.bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up(cfg: Any, work: Path, steps: int) -> dict[str, Any]:
    """Run ``steps`` steps of ``cfg`` in ``work/warmup`` and time steps, validation, a checkpoint and the data."""
    import torch

    from protok.training import (
        CropDataset,
        StepBatchSampler,
        Trainer,
        load_training_data,
        make_val_loader,
        save_checkpoint,
        validate,
    )
    from protok.training.checkpoint import rng_state
    from protok.training.data import collate_graphs

    run_dir = work / "warmup"
    shutil.rmtree(run_dir, ignore_errors=True)
    wcfg = _replace_run(
        cfg, out_dir=str(run_dir), total_steps=steps, val_every=0, ckpt_every=steps, stop_at=0, log_every=1
    )
    wcfg = dataclasses.replace(wcfg, run=dataclasses.replace(wcfg.run, progress_bar=False))
    t0 = time.perf_counter()
    trainer = Trainer(wcfg)
    checkpoint = trainer.fit()
    wall = time.perf_counter() - t0
    rows = _train_rows(run_dir)
    per_step = [float(r["s_per_step"]) for r in rows]
    steady = per_step[len(per_step) // 2 :] or per_step
    tcfg, device = trainer.config, trainer.dist.device

    data = load_training_data(tcfg.data)
    t0 = time.perf_counter()
    validate(
        trainer.model,
        make_val_loader(data, tcfg.data),
        device=device,
        progress=1.0,
        autocast=lambda: _autocast(trainer),
    )
    _sync(device)
    val_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    save_checkpoint(
        work / "checkpoint-probe",
        model=trainer.model,
        optimizer=trainer.optimizer,
        step=steps,
        state={"config": tcfg.to_dict()},
        rng_states=[rng_state(device, trainer.model)],
        is_best=False,
    )
    ckpt_s = time.perf_counter() - t0
    shutil.rmtree(work / "checkpoint-probe", ignore_errors=True)

    # batch building on one thread, as in a DataLoader worker
    ds = CropDataset(
        data.store,
        tcfg.data.crop_length,
        random_crop=True,
        seed=tcfg.run.seed,
        knn=tcfg.data.knn,
        coord_noise=tcfg.data.coord_noise,
    )
    sampler = StepBatchSampler(data.train, tcfg.data.batch_size, tcfg.run.seed, 0, 3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        for keys in sampler:
            collate_graphs([ds[k] for k in keys])
        batch_s = (time.perf_counter() - t0) / len(sampler)
    finally:
        torch.set_num_threads(threads)
    workers = tcfg.data.num_workers
    data_s = batch_s / (workers * WORKER_EFFICIENCY) if workers > 0 else 0.0  # in-process: in the step time
    return {
        "steps": steps,
        "wall_s": wall,
        "s_per_step": statistics.median(steady),
        "first_step_s": per_step[0] if per_step else None,
        "startup_s": max(wall - _busy_seconds(rows) - val_s - ckpt_s, 0.0),
        "val_s": val_s,
        "checkpoint_s": ckpt_s,
        "batch_build_s": batch_s,
        "data_s_per_step": data_s,
        "checkpoint": str(checkpoint),
        "trainer": trainer,
    }


def plan_steps(warm: dict[str, Any], train_seconds: float, val_points: int) -> dict[str, Any]:
    """Steps that fit ``train_seconds`` at the warm-up's rates (see the module docstring)."""
    step_s = max(warm["s_per_step"], warm["data_s_per_step"]) * 1.05
    fixed = warm["startup_s"] + val_points * (warm["val_s"] + warm["checkpoint_s"])
    steps = max(int((0.95 * train_seconds - fixed) / step_s), 1)
    return {
        "total_steps": steps,
        "s_per_step": step_s,
        "fixed_s": fixed,
        "predicted_wall_s": fixed + steps * step_s,
    }


def export(
    checkpoint: Path,
    run_dir: Path,
    out: Path,
    work: Path,
    *,
    name: str,
    command: str,
    note: str,
    hardware: str,
) -> Path:
    """Model folder, metrics files and learning curve of a run into ``out`` (see the module docstring)."""
    from protok.training.release import release_model

    staging = work / "export"
    shutil.rmtree(staging, ignore_errors=True)
    released = release_model(
        checkpoint, name, weights_dir=staging, command=command, note=note, hardware=hardware
    )
    model_dir = out / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir(parents=True)
    for f in MODEL_FILES:
        shutil.copyfile(released / f, model_dir / f)
    for f in OUT_FILES:
        if (run_dir / f).is_file():
            shutil.copyfile(run_dir / f, out / f)
    try:
        png, _ = _plot_training().plot_runs([run_dir], work / "curve", val=True)
        shutil.copyfile(png, out / "learning_curve.png")
    except Exception as e:  # the model and metrics matter more than the picture
        log.warning("learning curve not drawn: %s: %s", type(e).__name__, e)
    return model_dir


def _plot_training() -> Any:
    """``benchmarks/plot_training.py`` as a module."""
    spec = importlib.util.spec_from_file_location("plot_training", REPO / "benchmarks" / "plot_training.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hardware(device: Any) -> tuple[str, str | None]:
    import torch

    if device.type == "cuda":
        gpu = torch.cuda.get_device_name(device)
        return f"{gpu} (torch {torch.__version__}, CUDA {torch.version.cuda}), bf16 autocast", gpu
    return f"{platform.machine()} CPU, torch {torch.__version__} (gpu_train.py test run)", None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="output folder (model/, metrics, learning curve, summary.json)")
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "gpu.toml")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--device", default=None, help="run.device (default: the config's)")
    ap.add_argument("--train-seconds", type=float, default=450.0, help="wall budget of the training run")
    ap.add_argument("--guard-seconds", type=float, default=None, help="hard stop (default: budget + 45 s)")
    ap.add_argument(
        "--warmup-steps", type=int, default=40, help="timed warm-up steps (0: none; needs --steps)"
    )
    ap.add_argument("--steps", type=int, default=0, help="fixed run.total_steps (0: from the warm-up)")
    ap.add_argument("--max-steps", type=int, default=0, help="cap of the planned steps (0: none)")
    ap.add_argument("--val-points", type=int, default=10, help="validations (and checkpoints) in the run")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "protok-gpu-train")
    ap.add_argument("--name", default=None, help="model name in the card (default: '<model.name>-gpu')")
    args = ap.parse_args(argv)
    if args.warmup_steps <= 0 and args.steps <= 0:
        ap.error("--warmup-steps 0 needs --steps")
    t_start = time.perf_counter()

    import torch

    from protok.training import Trainer, find_latest_checkpoint, load_config, read_metrics

    overrides = list(args.overrides) + ([f"run.device={args.device}"] if args.device else [])
    cfg = load_config(args.config, overrides)
    out, work = args.out.resolve(), args.work.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    name = args.name or f"{cfg.model.name}-gpu"

    warm: dict[str, Any] = {}
    if args.warmup_steps > 0:
        log.info("warm-up: %d steps of %s", args.warmup_steps, args.config)
        warm = warm_up(cfg, work, args.warmup_steps)
        trainer = warm.pop("trainer")
        hardware, gpu = _hardware(trainer.dist.device)
        del trainer
        # the export path too, on the warm-up checkpoint, before the long run
        export(
            Path(warm["checkpoint"]),
            work / "warmup",
            work / "warmup-export",
            work,
            name=name,
            command="warm-up",
            note="warm-up",
            hardware=hardware,
        )
        log.info(
            "warm-up: %.3f s/step (first %.2f s), data %.3f s/step (%.2f s per batch on one core), "
            "validation %.1f s, checkpoint %.2f s, start-up %.1f s",
            warm["s_per_step"],
            warm["first_step_s"] or 0.0,
            warm["data_s_per_step"],
            warm["batch_build_s"],
            warm["val_s"],
            warm["checkpoint_s"],
            warm["startup_s"],
        )
    if args.steps > 0:
        plan = {"total_steps": args.steps}
    else:
        plan = plan_steps(warm, args.train_seconds, args.val_points)
    if args.max_steps > 0 and plan["total_steps"] > args.max_steps:
        plan["total_steps"], plan["capped_by_max_steps"] = args.max_steps, True
    total = plan["total_steps"]
    every = max(math.ceil(total / max(args.val_points, 1)), 1)
    plan.update(val_every=every, ckpt_every=every, train_seconds=args.train_seconds)
    guard = args.guard_seconds if args.guard_seconds is not None else args.train_seconds + 45.0
    plan["guard_seconds"] = guard

    run_dir = work / name
    shutil.rmtree(run_dir, ignore_errors=True)
    sets = [*overrides, f"run.total_steps={total}", f"run.val_every={every}", f"run.ckpt_every={every}"]
    command = " ".join(
        [
            "python -m protok.training",
            str(args.config),
            *[f"--set {s}" for s in sets],
            f"--set run.out_dir={run_dir}",
        ]
    )
    log.info("training: %d steps (validation and checkpoint every %d), guard %.0f s", total, every, guard)
    mcfg = _replace_run(
        cfg, out_dir=str(run_dir), total_steps=total, val_every=every, ckpt_every=every, stop_at=0
    )
    trainer = Trainer(mcfg)
    stopped = False
    t0 = time.perf_counter()
    try:
        with wall_clock_guard(guard):
            checkpoint = trainer.fit()
    except Deadline as e:
        stopped = True
        log.warning("%s: stopped at step %d of %d; exporting the latest checkpoint", e, trainer.step, total)
        latest = find_latest_checkpoint(run_dir)
        if latest is None:
            raise SystemExit(
                "the guard stopped training before the first checkpoint: nothing to export"
            ) from None
        checkpoint = latest
    train_wall = time.perf_counter() - t0
    device = trainer.dist.device if trainer.dist is not None else torch.device("cpu")
    hardware, gpu = _hardware(device)

    note = (
        f"benchmarks/gpu_train.sh: {total} steps planned from a timed warm-up for a {args.train_seconds:.0f} s "
        f"budget{'; stopped early by the wall-clock guard' if stopped else ''}; data: {cfg.data.promod3} "
        "(a subset of the ProMod3 chains that stores the whole archive's split)"
    )
    export(checkpoint, run_dir, out, work, name=name, command=command, note=note, hardware=hardware)

    rows = _train_rows(run_dir)
    vals = read_metrics(run_dir, "val")
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    busy = _busy_seconds(rows)
    step = int(state.get("step", 0))
    best_metric = mcfg.run.best_metric
    best = None
    if vals:
        lower = best_metric.split("/")[-1].startswith(("rmsd", "bb_rmsd", "loss"))
        scored = [v for v in vals if isinstance(v.get(best_metric), int | float)]
        if scored:
            b = (min if lower else max)(scored, key=lambda v: v[best_metric])
            best = {"metric": best_metric, "value": b[best_metric], "step": b["step"]}
    summary = {
        "config": str(args.config),
        "overrides": overrides,
        "command": command,
        "device": str(device),
        "gpu": gpu,
        "hardware": hardware,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "bf16": bool(mcfg.run.bf16 and device.type == "cuda"),
        "batch_size": mcfg.data.batch_size,
        "crop_length": mcfg.data.crop_length,
        "num_workers": mcfg.data.num_workers,
        "warmup": warm,
        "plan": plan,
        "steps": step,
        "total_steps": total,
        "stopped_by_guard": stopped,
        "checkpoint": checkpoint.name,
        "wall_s": {"total": time.perf_counter() - t_start, "train": train_wall, "train_steps": busy},
        "steps_per_s": step / busy if busy > 0 else None,
        "steps_per_s_with_validation": step / train_wall if train_wall > 0 else None,
        "residues_per_s": statistics.median([float(r["residues_per_s"]) for r in rows]) if rows else None,
        "final_validation": vals[-1] if vals else None,
        "best_validation": best,
        "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
    }
    summary["files"] = sorted({*summary["files"], "summary.json"})
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    fv = summary["final_validation"] or {}
    print(
        f"gpu_train: {step} of {total} steps in {train_wall:.0f} s on {hardware}"
        f" ({summary['steps_per_s'] or 0:.2f} steps/s), final val CA-RMSD {fv.get('val/rmsd_median')} Å, "
        f"TM {fv.get('val/tm_median')}, lDDT {fv.get('val/lddt_median')}; total {summary['wall_s']['total']:.0f} s"
        f" -> {out}",
        flush=True,
    )
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    main()
