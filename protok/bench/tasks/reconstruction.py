"""Reconstruction, for tokenizers that decode: CA and backbone RMSD, TM-score and lDDT-CA."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from protok.bench.item import BenchItem
from protok.bench.results import Result

__all__ = ["reconstruction", "kabsch_rmsd", "lddt_ca"]

log = logging.getLogger(__name__)


def kabsch_rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """RMSD (Å) after optimal superposition of point sets a, b of shape (n, 3) (rows with NaN dropped)."""
    ok = ~(np.isnan(a).any(1) | np.isnan(b).any(1))
    a, b = a[ok].astype(np.float64), b[ok].astype(np.float64)
    a, b = a - a.mean(0), b - b.mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    s[-1] *= d
    e = (a**2).sum() + (b**2).sum() - 2 * s.sum()
    return float(np.sqrt(max(e, 0.0) / len(a)))


def lddt_ca(pred: np.ndarray, ref: np.ndarray, cutoff: float = 15.0) -> float:
    """Global lDDT over CA atoms (thresholds 0.5, 1, 2, 4 Å; pairs within ``cutoff`` in the reference)."""
    dr = np.linalg.norm(ref[:, None] - ref[None], axis=-1)
    dp = np.linalg.norm(pred[:, None] - pred[None], axis=-1)
    n = len(ref)
    sel = (dr < cutoff) & ~np.eye(n, dtype=bool) & np.isfinite(dr) & np.isfinite(dp)
    if not sel.any():
        return float("nan")
    diff = np.abs(dr - dp)[sel]
    return float(np.mean([(diff < t).mean() for t in (0.5, 1.0, 2.0, 4.0)]))


def _metrics(pred: np.ndarray, item: BenchItem) -> dict[str, float]:
    from tmtools import tm_align

    ref = item.chain.coords
    try:  # prefer the project's metrics (protok.metrics) when present
        from protok.metrics import backbone_rmsd, ca_rmsd, tm_score
        from protok.metrics import lddt_ca as p_lddt

        return {
            "ca_rmsd": float(ca_rmsd(pred, ref)),
            "backbone_rmsd": float(backbone_rmsd(pred, ref)),
            "tm_score": float(tm_score(pred[:, 1], ref[:, 1])),
            "lddt_ca": float(p_lddt(pred[:, 1], ref[:, 1])),
        }
    except ImportError as exc:
        log.debug("protok.metrics unavailable (%s); using bench fallbacks", exc)
    seq = item.chain.sequence
    r = tm_align(
        np.ascontiguousarray(pred[:, 1], np.float64), np.ascontiguousarray(ref[:, 1], np.float64), seq, seq
    )
    return {
        "ca_rmsd": kabsch_rmsd(pred[:, 1], ref[:, 1]),
        "backbone_rmsd": kabsch_rmsd(pred.reshape(-1, 3), ref.reshape(-1, 3)),
        "tm_score": float(r.tm_norm_chain2),
        "lddt_ca": lddt_ca(pred[:, 1], ref[:, 1]),
    }


def reconstruction(
    adapter, items: Sequence[BenchItem], tokens: dict[str, np.ndarray], *, tokenizer: str
) -> list[Result]:
    """Decode each item's tokens and compare with the input backbone (mean ± std over chains)."""
    vals: dict[str, list[float]] = {}
    for it in items:
        pred = adapter.decode(tokens[it.id], it)
        for k, v in _metrics(pred, it).items():
            vals.setdefault(k, []).append(v)
    return [
        Result(tokenizer, "reconstruction", "chains", k, float(np.nanmean(v)), float(np.nanstd(v)), len(v))
        for k, v in vals.items()
    ]
