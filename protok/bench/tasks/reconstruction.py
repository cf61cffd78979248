"""Reconstruction, for tokenizers that decode: CA and backbone RMSD, TM-score and lDDT-CA (:mod:`protok.metrics`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protok.bench.adapters import TokenizerAdapter
from protok.bench.item import BenchItem
from protok.bench.results import Result
from protok.metrics import backbone_rmsd, ca_rmsd, lddt_ca, tm_score

__all__ = ["reconstruction"]


def _metrics(pred: np.ndarray, item: BenchItem) -> dict[str, float]:
    ref = item.chain.coords
    return {
        "ca_rmsd": float(ca_rmsd(pred, ref)),
        "backbone_rmsd": float(backbone_rmsd(pred, ref)),
        "tm_score": float(tm_score(pred[:, 1], ref[:, 1])),
        "lddt_ca": float(lddt_ca(pred[:, 1], ref[:, 1])),
    }


def reconstruction(
    adapter: TokenizerAdapter, items: Sequence[BenchItem], tokens: dict[str, np.ndarray], *, tokenizer: str
) -> list[Result]:
    """Decode each item's tokens and compare with the input backbone (mean ± std over chains)."""
    vals: dict[str, list[float]] = {}
    for it in items:
        pred = adapter.decode(tokens[it.id], it)
        for metric, value in _metrics(pred, it).items():
            vals.setdefault(metric, []).append(value)
    return [
        Result(tokenizer, "reconstruction", "chains", m, float(np.nanmean(v)), float(np.nanstd(v)), len(v))
        for m, v in vals.items()
    ]
