"""Learning curves of training runs side by side: a PNG and a compact CSV.

    python benchmarks/plot_training.py runs/provq_small runs/vq_small runs/aminoaseed_small \
        -o benchmarks/results/training_small_v0

reads each run's ``metrics.jsonl`` (written by ``protok train``) and writes ``<out>.png`` (train loss, train
CA-RMSD, batch perplexity and code usage, ProVQ alpha, against step) and ``<out>.csv`` (the same columns plus
the validation rows).
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


def load_run(run: Path) -> pd.DataFrame:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    df = pd.DataFrame(rows)
    df.insert(0, "run", run.name)
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True, help="output path without extension")
    args = ap.parse_args()
    df = pd.concat([load_run(r) for r in args.runs], ignore_index=True)
    keep = ["run", "split", "step", *[c for c in (*COLUMNS, "stats/alpha") if c in df]]
    keep += [c for c in df.columns if c.startswith("val/")]
    df[keep].to_csv(args.out.with_suffix(".csv"), index=False, float_format="%.4g")
    train = df[df["split"] == "train"]
    fig, axes = plt.subplots(1, len(COLUMNS), figsize=(4.2 * len(COLUMNS), 3.4))
    for ax, (col, label) in zip(axes, COLUMNS.items(), strict=True):
        for run, g in train.groupby("run"):
            ax.plot(g["step"], g[col].rolling(5, min_periods=1).mean(), label=run)
        ax.set_xlabel("step")
        ax.set_title(label)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)
    print(args.out.with_suffix(".png"), args.out.with_suffix(".csv"))


if __name__ == "__main__":
    main()
