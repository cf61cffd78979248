"""Codebook-use collapses in training logs, and the quantization hardness at which each happened.

A collapse is a logged training step whose share of codes in use (``stats/usage``, over the step's batch)
falls below ``--drop`` times the median of the 10 logged steps before it. For every run folder given (its
``metrics.jsonl``), prints each collapse with its step, usage, the median before it and ProVQ's hardness
``stats/alpha`` there (blank for quantizers without one), then the lowest usage within the next 100 steps and
the step usage first returns to the median. A CSV of learning curves (``run,split,step,...`` columns, as
``benchmarks/results/training_small_v1.csv``) is read as one run per ``run`` value. Tells whether collapses come with a stage of ProVQ's anneal (then
they would cluster at one alpha) or happen at any point of training.

Usage::

    python benchmarks/collapse_scan.py runs/tournament/* [--drop 0.5] [--json out.json]
    python benchmarks/collapse_scan.py benchmarks/results/training_small_v1.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path
from typing import Any


def train_rows(run_dir: Path) -> list[dict[str, Any]]:
    """Training rows of ``run_dir/metrics.jsonl`` by step (the last row of a step repeated after a resume)."""
    by_step: dict[int, dict[str, Any]] = {}
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("split") == "train" and "stats/usage" in row:
            by_step[int(row["step"])] = row
    return [by_step[s] for s in sorted(by_step)]


def csv_runs(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Training rows of a learning-curve CSV, per ``run``, by step."""
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            if row.get("split") != "train" or not row.get("stats/usage"):
                continue
            alpha = row.get("stats/alpha")
            runs.setdefault(row["run"], {})[int(row["step"])] = {
                "step": int(row["step"]),
                "stats/usage": float(row["stats/usage"]),
                "stats/alpha": float(alpha) if alpha else None,
            }
    return {name: [rows[s] for s in sorted(rows)] for name, rows in runs.items()}


def collapses(rows: list[dict[str, Any]], drop: float = 0.5, window: int = 10) -> list[dict[str, Any]]:
    """Every row whose usage is below ``drop`` x the median of the ``window`` rows before it."""
    found = []
    for i in range(window, len(rows)):
        before = statistics.median(r["stats/usage"] for r in rows[i - window : i])
        row = rows[i]
        if row["stats/usage"] >= drop * before:
            continue
        after = [r for r in rows[i:] if r["step"] <= row["step"] + 100]
        back = next((r["step"] for r in rows[i + 1 :] if r["stats/usage"] >= before), None)
        found.append(
            {
                "step": row["step"],
                "usage": round(row["stats/usage"], 3),
                "usage_before": round(before, 3),
                "alpha": None if row.get("stats/alpha") is None else round(row["stats/alpha"], 3),
                "lowest_within_100": round(min(r["stats/usage"] for r in after), 3),
                "recovered_at": back,
            }
        )
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="training run folders (with metrics.jsonl)")
    ap.add_argument("--drop", type=float, default=0.5)
    ap.add_argument("--json", type=Path, default=None, help="also write the findings here")
    args = ap.parse_args()
    report: dict[str, Any] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in args.runs:
        runs.update(csv_runs(path) if path.suffix == ".csv" else {path.name: train_rows(path)})
    for name, rows in runs.items():
        if not rows:
            continue
        events = collapses(rows, args.drop)
        report[name] = {"logged_steps": len(rows), "last_step": rows[-1]["step"], "collapses": events}
        print(f"{name}: {len(events)} collapse(s) in {len(rows)} logged steps (to step {rows[-1]['step']})")
        for e in events:
            alpha = "" if e["alpha"] is None else f" alpha {e['alpha']}"
            print(
                f"  step {e['step']}: usage {e['usage']} (median before {e['usage_before']}){alpha}; "
                f"lowest within 100 steps {e['lowest_within_100']}, back at step {e['recovered_at']}"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
