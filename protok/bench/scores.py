"""Scores the benchmark reports: AUROC, macro-F1, rank correlations, codebook usage and token statistics
(numpy/scipy only, no scikit-learn dependency). Structure-comparison metrics (RMSD, TM-score, lDDT) are
:mod:`protok.metrics`, shared with training and the tokenizer."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "auroc",
    "class_f1",
    "macro_f1",
    "spearman",
    "pearson",
    "token_entropy",
    "utilisation_rate",
    "perplexity",
    "per_protein_perplexity",
    "marginal_utility",
    "pairwise_cosine",
    "weighted_mean_std",
    "change_count",
    "change_share",
]


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties).

    Parameters
    ----------
    labels : ndarray, shape=(n,), 0/1
    scores : ndarray, shape=(n,), float

    Returns
    -------
    float
        NaN if only one class is present.
    """
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = stats.rankdata(np.asarray(scores, np.float64))
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def class_f1(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """F1 of each class of ``classes`` (NaN for a class in neither ``y_true`` nor ``y_pred``)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = np.full(len(classes), np.nan)
    for i, c in enumerate(classes):
        t, p = y_true == c, y_pred == c
        if t.any() or p.any():
            out[i] = 2 * float((t & p).sum()) / (t.sum() + p.sum())
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 over classes present in ``y_true`` or ``y_pred``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.union1d(np.unique(y_true), np.unique(y_pred)) if n_classes is None else np.arange(n_classes)
    f1s = class_f1(y_true, y_pred, classes)
    return float(np.nanmean(f1s)) if np.isfinite(f1s).any() else float("nan")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (NaN if fewer than 3 pairs or a constant input)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (NaN if fewer than 3 pairs or a constant input)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.pearsonr(x, y).statistic)


def _counts(tokens: np.ndarray, codebook_size: int) -> np.ndarray:
    t = np.asarray(tokens).reshape(-1)
    return np.bincount(t[t >= 0], minlength=codebook_size)[:codebook_size].astype(np.float64)


def token_entropy(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of a count vector."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def utilisation_rate(tokens: np.ndarray, codebook_size: int) -> float:
    """UR = codes used at least once / K (``codebook_size``)."""
    return float((_counts(tokens, codebook_size) > 0).sum() / codebook_size)


def perplexity(tokens: np.ndarray, codebook_size: int) -> float:
    """Data-set level perplexity exp(H) of the token frequency distribution."""
    return float(np.exp(token_entropy(_counts(tokens, codebook_size))))


def per_protein_perplexity(token_lists: list[np.ndarray], codebook_size: int) -> tuple[float, float]:
    """Mean and std over proteins of each protein's own perplexity (StructTokenBench's averaging)."""
    v = [perplexity(t, codebook_size) for t in token_lists if (np.asarray(t) >= 0).any()]
    return float(np.mean(v)), float(np.std(v))


def marginal_utility(tokens: np.ndarray, codes: np.ndarray) -> float:
    """MUV (VOLT): −(H(v_t) − H(v_{t−1})) / (|v_t| − |v_{t−1}|), per residue (token length 1).

    ``v_t`` is the tokenizer's used vocabulary; ``v_{t−1}`` keeps its most frequent half and maps every
    other code to the nearest kept code vector (L2). Negative values mean the extra codes add entropy;
    values near 0 mean they add little.

    Parameters
    ----------
    tokens : ndarray, any shape, int (−1 ignored)
    codes : ndarray, shape=(K, D)

    Returns
    -------
    float
        NaN if fewer than 2 codes are used.
    """
    counts = _counts(tokens, codes.shape[0])
    used = np.flatnonzero(counts > 0)
    if used.size < 2:
        return float("nan")
    order = used[np.argsort(-counts[used], kind="stable")]
    keep = order[: max(1, used.size // 2)]
    drop = order[keep.size :]
    d = ((codes[drop, None, :] - codes[None, keep, :]) ** 2).sum(-1)
    merged = counts[keep].copy()
    np.add.at(merged, d.argmin(1), counts[drop])
    return float(-(token_entropy(counts) - token_entropy(merged)) / (used.size - keep.size))


def pairwise_cosine(codes: np.ndarray) -> np.ndarray:
    """Cosine similarity of all code pairs, shape=(K, K) (zero vectors give 0)."""
    c = np.asarray(codes, np.float64)
    n = np.linalg.norm(c, axis=1, keepdims=True)
    c = np.divide(c, n, out=np.zeros_like(c), where=n > 0)
    return c @ c.T


def weighted_mean_std(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted mean and standard deviation."""
    w = np.asarray(weights, np.float64)
    if w.sum() <= 0:
        return float("nan"), float("nan")
    m = float(np.average(values, weights=w))
    return m, float(np.sqrt(np.average((values - m) ** 2, weights=w)))


def change_count(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Residues whose token differs, over residues defined (>= 0) in both; and that count of residues.

    Parameters
    ----------
    a, b : ndarray, shape=(n,), dtype=int
        Tokens of the same residues, ``-1`` where undefined.
    """
    a, b = np.asarray(a), np.asarray(b)
    ok = (a >= 0) & (b >= 0)
    return int((a[ok] != b[ok]).sum()), int(ok.sum())


def change_share(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Share of residues whose token differs, over residues defined (>= 0) in both; and that count."""
    changed, n = change_count(a, b)
    return (changed / n if n else float("nan")), n
