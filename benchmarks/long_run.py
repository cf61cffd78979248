"""A training run longer than one working session: committed resume point, growing learning curve.

A long run trains with ``protok train CONFIG --resume --set run.out_dir=RUN_DIR`` from a worktree of its
own (so that edits to the checkout do not reach a running job). Between sessions its state lives in the
repository as ONE file, replaced each time, never piled up:

* ``snapshot`` packs the run's latest checkpoint (weights, optimizer, RNG and trainer state: everything
  ``--resume`` needs for an exact continuation) into ``benchmarks/checkpoints/long_run/NAME.tar`` and
  writes the learning curve so far (``benchmarks/results/long_run/NAME.csv`` and ``.png``, the
  validation rows and the training rows every 100 steps) plus ``NAME.json`` (steps, CPU hours, the last
  validation, the plateau test below, the command);
* ``restore`` unpacks that file into a fresh ``RUN_DIR`` so that ``--resume`` continues from it.

``snapshot --weights-only`` leaves the optimizer state out (two thirds of a small model's checkpoint, for a
repository that has to stay small) and gzips the file (``restore`` reads either form): the restored checkpoint
then starts the next phase as a warm start, ``protok train CONFIG --set
run.init_from=RUN_DIR/checkpoints/step_N`` (same weights, step and schedules; a fresh optimizer, re-warmed), as
every fine-tune phase of the shipped models began.

A fine-tune phase (``run.init_from``: the run starts from another run's checkpoint, its step and schedules)
is snapshotted with ``--parent PARENT_RUN_DIR``: the curve and the plateau test then hold the parent's rows
up to the step the phase began at, followed by the phase's own rows, with the switch marked on the plot.

Plateau test (the stopping rule of a long run): the validation TM-score gained less than ``--min-gain``
(default 0.01) over the last 20 % of the steps run so far.

    python benchmarks/long_run.py restore  --name provq-v2 --run-dir runs/long/provq-v2
    OMP_NUM_THREADS=2 protok train configs/tournament/WINNER.toml --resume --set run.out_dir=runs/long/provq-v2
    python benchmarks/long_run.py snapshot --name provq-v2 --run-dir runs/long/provq-v2 --config configs/...
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from protok.training import read_metrics
from protok.training.checkpoint import load_trainer_state

REPO = Path(__file__).resolve().parent.parent
STATE_DIR = REPO / "benchmarks" / "checkpoints" / "long_run"
CURVE_DIR = REPO / "benchmarks" / "results" / "long_run"
#: The optimizer state's file in a checkpoint folder (left out by ``--weights-only``).
OPTIMIZER_FILE = "optimizer.safetensors"


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    return read_metrics(run_dir)


def plateau(val: list[dict[str, Any]], min_gain: float = 0.01, share: float = 0.2) -> dict[str, Any]:
    """Validation TM-score gained over the last ``share`` of the steps; plateau when below ``min_gain``."""
    if len(val) < 2:
        return {"gain": None, "plateau": False}
    last = val[-1]["step"]
    start = last * (1.0 - share)
    earlier = [r for r in val if r["step"] <= start] or val[:1]
    gain = max(r["val/tm_median"] for r in val if r["step"] > start) - earlier[-1]["val/tm_median"]
    return {"gain": round(gain, 4), "from_step": earlier[-1]["step"], "plateau": gain < min_gain}


def lineage_rows(run_dir: Path, parent: Path | None, start: int | None) -> list[dict[str, Any]]:
    """The run's metric rows, preceded by ``parent``'s rows up to step ``start`` for a fine-tune phase."""
    rows = _rows(run_dir)
    if parent is None:
        return rows
    if start is None:
        raise SystemExit(f"{run_dir} was not warm-started (no init_step): --parent does not apply")
    return [r for r in _rows(parent) if r["step"] <= start] + [r for r in rows if r["step"] > start]


def snapshot(
    name: str,
    run_dir: Path,
    config: str,
    min_gain: float,
    parent: Path | None = None,
    weights_only: bool = False,
) -> None:
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["path"]
    ckpt = run_dir / "checkpoints" / latest
    state = load_trainer_state(ckpt)
    start, step = state.get("init_step"), state["step"]
    # rows logged after the checkpoint are replayed by the resumed run
    rows = [r for r in lineage_rows(run_dir, parent, start) if r["step"] <= step]
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = STATE_DIR / f".{name}.tar.tmp"
    # weights barely compress; a weights-only file, small enough to matter, is gzipped for its metrics' text
    with tarfile.open(tmp, "w:gz" if weights_only else "w") as tar:
        for f in sorted(ckpt.iterdir()):
            if not (weights_only and f.name == OPTIMIZER_FILE):
                tar.add(f, arcname=f"checkpoints/{latest}/{f.name}")
        tar.add(run_dir / "checkpoints" / "latest.json", arcname="checkpoints/latest.json")
        # the lineage's rows (a fine-tune phase keeps its parent's), so a restored run's later snapshots and
        # its resumed metrics hold the whole curve
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        info = tarfile.TarInfo("metrics.jsonl")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        if (run_dir / "config.json").exists():
            tar.add(run_dir / "config.json", arcname="config.json")
    tmp.replace(STATE_DIR / f"{name}.tar")

    val = [r for r in rows if r.get("split") == "val"]
    train = [r for r in rows if r.get("split") == "train"]
    CURVE_DIR.mkdir(parents=True, exist_ok=True)
    _write_curve(name, train, val, phase_start=start)
    summary = {
        "name": name,
        "step": step,
        "cpu_h": round(train[-1].get("cpu_s", float("nan")) / 3600, 2) if train else 0,
        "last_validation": val[-1] if val else None,
        "plateau_test": plateau(val, min_gain),
        "command": f"protok train {config} --resume --set run.out_dir=runs/long/{name}",
    }
    if weights_only:
        summary["optimizer"] = "left out (--weights-only): continue with a warm start"
        summary["command"] = (
            f"protok train {config} --set run.init_from=runs/long/{name}/checkpoints/{latest} "
            f"--set run.out_dir=runs/long/{name}-next"
        )
    if start is not None:
        summary["phase_start_step"] = start
    (CURVE_DIR / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


def _write_curve(
    name: str, train: list[dict[str, Any]], val: list[dict[str, Any]], phase_start: int | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["step", "val/rmsd_median", "val/tm_median", "val/lddt_median", "val/usage", "val/perplexity"]
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in val]
    (CURVE_DIR / f"{name}.csv").write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    thin = [r for r in train if r["step"] % 100 == 0]
    axes[0].plot([r["step"] for r in thin], [r["stats/ca_rmsd"] for r in thin], lw=0.8, label="train crops")
    axes[0].plot(
        [r["step"] for r in val], [r["val/rmsd_median"] for r in val], "o-", ms=3, label="validation"
    )
    axes[0].set_ylabel("median CA-RMSD (Å)")
    axes[0].legend()
    axes[1].plot([r["step"] for r in val], [r["val/tm_median"] for r in val], "o-", ms=3)
    axes[1].set_ylabel("validation median TM-score")
    axes[2].plot([r["step"] for r in val], [r.get("val/perplexity", 0) for r in val], "o-", ms=3)
    axes[2].set_ylabel("validation perplexity")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if phase_start is not None:
            ax.axvline(phase_start, color="grey", ls="--", lw=0.8)
    if phase_start is not None:
        axes[1].annotate(
            "fine-tune phase", (phase_start, 0.02), xycoords=("data", "axes fraction"), fontsize=8
        )
    fig.suptitle(f"{name}: long run")
    fig.tight_layout()
    fig.savefig(CURVE_DIR / f"{name}.png", dpi=110)


def restore(name: str, run_dir: Path) -> None:
    src = STATE_DIR / f"{name}.tar"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise SystemExit(f"{run_dir} is not empty: restore only into a fresh folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(src) as tar:
        tar.extractall(run_dir, filter="data")
    print(f"restored {src.name} into {run_dir}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["snapshot", "restore"])
    ap.add_argument("--name", required=True)
    ap.add_argument("--run-dir", required=True, type=Path)
    ap.add_argument("--config", default="CONFIG", help="the run's config (recorded in the summary)")
    ap.add_argument("--min-gain", type=float, default=0.01)
    ap.add_argument("--parent", type=Path, help="run folder a fine-tune phase (run.init_from) started from")
    ap.add_argument("--weights-only", action="store_true", help="leave the optimizer state out")
    args = ap.parse_args()
    if args.action == "snapshot":
        snapshot(args.name, args.run_dir, args.config, args.min_gain, args.parent, args.weights_only)
    else:
        restore(args.name, args.run_dir)


if __name__ == "__main__":
    main()
