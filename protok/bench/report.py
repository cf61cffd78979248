"""Write ``results.csv`` (long format), ``report.md`` (tokenizers × tasks, best per column marked) and plots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from protok.bench.results import RESULT_COLUMNS, Result

__all__ = ["results_frame", "write_results", "write_report", "HEADLINE", "write_plots"]

log = logging.getLogger(__name__)

#: Report columns: (label, task, split, metric, higher_is_better).
HEADLINE: tuple[tuple[str, str, str, str, bool], ...] = (
    ("binding AUROC", "binding", "test", "auroc_pooled", True),
    ("SS8 F1 (fold)", "ss", "fold_test", "ss8_macro_f1", True),
    ("SS3 F1 (fold)", "ss", "fold_test", "ss3_macro_f1", True),
    ("RSA ρ (fold)", "rsa_depth", "fold_test", "rsa_spearman", True),
    ("depth ρ (fold)", "rsa_depth", "fold_test", "depth_spearman", True),
    ("fold F1 (fold)", "fold", "fold_test", "macro_f1", True),
    ("fold F1 (sf)", "fold", "superfamily_test", "macro_f1", True),
    ("B-factor ρ", "flexibility", "test", "bfactor_spearman", True),
    ("sens. ρ", "sensitivity", "pairs", "spearman", True),
    ("code cos (used)", "distinctiveness", "codebook", "cosine_usage_weighted", False),
    ("UR", "efficiency", "all", "utilisation_rate", True),
    ("perplexity", "efficiency", "all", "perplexity", True),
    ("Δtok 0.1 Å", "robustness", "noise_0.1", "change_share", False),
    ("Δtok rigid", "robustness", "rigid", "change_share", False),
    ("Δtok mirror", "robustness", "mirror", "change_share", True),
    ("CA RMSD", "reconstruction", "chains", "ca_rmsd", False),
    ("TM", "reconstruction", "chains", "tm_score", True),
    ("lDDT-CA", "reconstruction", "chains", "lddt_ca", True),
)


def results_frame(results: Sequence[Result]) -> pd.DataFrame:
    """Long-format table with columns tokenizer, task, split, metric, value, std, n."""
    return pd.DataFrame([r.to_dict() for r in results], columns=list(RESULT_COLUMNS))


def write_results(results: Sequence[Result], path: str | Path) -> pd.DataFrame:
    df = results_frame(results)
    df.to_csv(path, index=False, float_format="%.6g")
    return df


def _fmt(v: float, s: float) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{v:.3f} ± {s:.3f}" if np.isfinite(s) else f"{v:.3f}"


def write_report(df: pd.DataFrame, path: str | Path, *, header: str = "", notes: Sequence[str] = ()) -> str:
    """One markdown table: tokenizers as rows, headline task metrics as columns, best per column in bold.

    Mean ± std over seeds for probe tasks; ``–`` = not applicable / not run. Oracle cells (the DSSP
    tokenizer on the secondary-structure task it *is*) are shown in italics and not ranked.
    """
    toks = list(dict.fromkeys(df["tokenizer"]))
    cols = [h for h in HEADLINE if ((df.task == h[1]) & (df.split == h[2]) & (df.metric == h[3])).any()]
    lines = [header] if header else []
    lines.append("| tokenizer | " + " | ".join(c[0] for c in cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    cells: dict[str, list[str]] = {t: [] for t in toks}
    for _label, task, split, metric, higher in cols:
        sel = df[(df.task == task) & (df.split == split) & (df.metric == metric)].set_index("tokenizer")
        rankable = {
            t: float(sel.loc[t, "value"])
            for t in sel.index
            if np.isfinite(sel.loc[t, "value"]) and not (t == "dssp" and task == "ss")
        }
        best = (max if higher else min)(rankable.values()) if rankable else None
        for t in toks:
            if t not in sel.index:
                cells[t].append("–")
                continue
            txt = _fmt(float(sel.loc[t, "value"]), float(sel.loc[t, "std"]))
            if t == "dssp" and task == "ss":
                txt = f"*{txt}*"
            elif best is not None and t in rankable and np.isclose(rankable[t], best):
                txt = f"**{txt}**"
            cells[t].append(txt)
    for t in toks:
        lines.append(f"| {t} | " + " | ".join(cells[t]) + " |")
    lines.append("")
    lines.append(
        "Bold: best per column (lower is better for code cosine, Δtok under noise/rigid motion and RMSD; "
        "higher for Δtok under mirror, since a chiral tokenizer should tell mirror images apart). "
        "Italics: oracle (the DSSP tokenizer is the secondary-structure label). – : not applicable."
    )
    lines.extend(notes)
    text = "\n".join(lines) + "\n"
    Path(path).write_text(text)
    return text


def write_plots(
    out_dir: str | Path,
    df: pd.DataFrame,
    usage: Mapping[str, np.ndarray],
    cosines: Mapping[str, tuple[np.ndarray, np.ndarray]],
    sens: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> list[Path]:
    """utilisation.png, robustness.png, distinctiveness.png, sensitivity.png; returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    written = []
    toks = list(usage)
    if toks:
        fig, axes = plt.subplots(1, len(toks), figsize=(3.2 * len(toks), 2.8), squeeze=False)
        for ax, t in zip(axes[0], toks):
            u = np.sort(usage[t])[::-1]
            ax.bar(np.arange(len(u)), u / max(u.sum(), 1), width=1.0)
            ax.set_title(f"{t} (K={len(u)})", fontsize=9)
            ax.set_xlabel("code (by frequency)")
            ax.set_ylabel("share of residues")
        fig.tight_layout()
        written.append(out_dir / "utilisation.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    rob = df[(df.task == "robustness") & df.split.str.startswith("noise_")]
    if len(rob):
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for t, g in rob.groupby("tokenizer", sort=False):
            sig = g.split.str.replace("noise_", "").astype(float)
            o = np.argsort(sig.values)
            ax.plot(sig.values[o], g.value.values[o], marker="o", label=t)
        ax.set_xscale("log")
        ax.set_xlabel("Gaussian noise σ (Å)")
        ax.set_ylabel("share of tokens changed")
        ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(out_dir / "robustness.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    if cosines:
        fig, ax = plt.subplots(figsize=(1.2 + 1.4 * len(cosines), 3.2))
        rng = np.random.default_rng(0)
        data, labels = [], []
        for t, (cos, w) in cosines.items():
            data.append(cos if len(cos) else np.zeros(1))
            labels.append(f"{t}")
            if len(cos) and w.sum() > 0:
                data.append(rng.choice(cos, size=min(5000, max(100, len(cos))), p=w / w.sum()))
                labels.append(f"{t}\n(usage)")
        ax.violinplot(data, showmedians=True)
        ax.set_xticks(np.arange(1, len(data) + 1), labels, fontsize=6, rotation=45)
        ax.set_ylabel("pairwise code cosine")
        fig.tight_layout()
        written.append(out_dir / "distinctiveness.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    if sens:
        fig, axes = plt.subplots(1, len(sens), figsize=(3.0 * len(sens), 2.8), squeeze=False)
        for ax, (t, (score, tm)) in zip(axes[0], sens.items()):
            ax.scatter(tm, score, s=6)
            ax.set_title(t, fontsize=9)
            ax.set_xlabel("TM-score")
            ax.set_ylabel("token alignment score")
        fig.tight_layout()
        written.append(out_dir / "sensitivity.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written
