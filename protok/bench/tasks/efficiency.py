"""Efficiency: codebook utilisation rate, perplexity (data-set level and per protein) and MUV."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protok.bench.results import Result
from protok.bench.scores import marginal_utility, per_protein_perplexity, perplexity, utilisation_rate

__all__ = ["efficiency"]


def efficiency(token_lists: Sequence[np.ndarray], codes: np.ndarray, *, tokenizer: str) -> list[Result]:
    """UR, perplexity (pooled over all residues; and mean ± std of per-protein values) and MUV."""
    codebook_size = codes.shape[0]
    flat = np.concatenate(list(token_lists)) if token_lists else np.zeros(0, np.int64)
    n_res = int((flat >= 0).sum())
    pp_mean, pp_std = per_protein_perplexity(list(token_lists), codebook_size)

    def row(metric: str, value: float, std: float = float("nan"), n: int = n_res) -> Result:
        return Result(tokenizer, "efficiency", "all", metric, value, std, n)

    return [
        row("utilisation_rate", utilisation_rate(flat, codebook_size)),
        row("perplexity", perplexity(flat, codebook_size)),
        row("perplexity_per_protein", pp_mean, pp_std, len(token_lists)),
        row("muv", marginal_utility(flat, codes)),
        row("codebook_size", float(codebook_size), n=codebook_size),
    ]
