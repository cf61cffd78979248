"""Learning curves of training runs side by side: a PNG and a compact CSV.

    python benchmarks/plot_training.py runs/provq_small runs/vq_small runs/aminoaseed_small \
        -o benchmarks/results/training_small_v0

reads each run's ``metrics.jsonl`` (written by ``protok train``) and writes ``<out>.png`` (train loss, train
CA-RMSD, batch perplexity and code usage, ProVQ alpha, against step) and ``<out>.csv`` (the same columns plus
the validation rows). ``--val`` adds panels of the validation rows (median CA-RMSD and TM-score).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

COLUMNS = {
    "loss": "train loss",
    "stats/ca_rmsd": "train CA-RMSD (Å)",
    "stats/perplexity": "batch perplexity",
    "stats/usage": "batch code usage",
}
VAL_COLUMNS = {
    "val/rmsd_median": "validation median CA-RMSD (Å)",
    "val/tm_median": "validation median TM-score",
}


def load_run(run: Path) -> pd.DataFrame:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    df = pd.DataFrame(rows)
    df.insert(0, "run", run.name)
    return df


def plot_runs(runs: list[Path], out: Path, val: bool = False) -> tuple[Path, Path]:
    """Write ``out.png`` and ``out.csv`` for the run folders ``runs``; return both paths."""
    df = pd.concat([load_run(r) for r in runs], ignore_index=True)
    keep = ["run", "split", "step", *[c for c in (*COLUMNS, "stats/alpha") if c in df]]
    keep += [c for c in df.columns if c.startswith("val/")]
    df[keep].to_csv(out.with_suffix(".csv"), index=False, float_format="%.4g")
    train = df[df["split"] == "train"]
    val_rows = df[df["split"] == "val"]
    val_cols = {c: t for c, t in VAL_COLUMNS.items() if c in val_rows} if val else {}
    panels = len(COLUMNS) + len(val_cols)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4))
    for ax, (col, label) in zip(axes, COLUMNS.items()):
        for run, g in train.groupby("run"):
            ax.plot(g["step"], g[col].rolling(5, min_periods=1).mean(), label=run)
        ax.set_xlabel("step")
        ax.set_title(label)
    for ax, (col, label) in zip(axes[len(COLUMNS) :], val_cols.items()):
        for run, g in val_rows.groupby("run"):
            ax.plot(g["step"], g[col], marker="o", label=run)
        ax.set_xlabel("step")
        ax.set_title(label)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)
    return out.with_suffix(".png"), out.with_suffix(".csv")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True, help="output path without extension")
    ap.add_argument("--val", action="store_true", help="add panels of the validation rows")
    args = ap.parse_args()
    print(*plot_runs(args.runs, args.out, val=args.val))


if __name__ == "__main__":
    main()
