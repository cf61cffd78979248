"""Efficiency: codebook utilisation rate, perplexity (data-set level and per protein) and MUV."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protok.bench.results import Result
from protok.bench.scores import marginal_utility, per_protein_perplexity, perplexity, utilisation_rate

__all__ = ["efficiency"]


def efficiency(token_lists: Sequence[np.ndarray], codes: np.ndarray, *, tokenizer: str) -> list[Result]:
    """UR, perplexity (pooled over all residues; and mean ± std of per-protein values) and MUV."""
    k = codes.shape[0]
    flat = np.concatenate(list(token_lists)) if token_lists else np.zeros(0, np.int64)
    n_res = int((flat >= 0).sum())
    pp_mean, pp_std = per_protein_perplexity(list(token_lists), k)
    return [
        Result(
            tokenizer, "efficiency", "all", "utilisation_rate", utilisation_rate(flat, k), float("nan"), n_res
        ),
        Result(tokenizer, "efficiency", "all", "perplexity", perplexity(flat, k), float("nan"), n_res),
        Result(tokenizer, "efficiency", "all", "perplexity_per_protein", pp_mean, pp_std, len(token_lists)),
        Result(tokenizer, "efficiency", "all", "muv", marginal_utility(flat, codes), float("nan"), n_res),
        Result(tokenizer, "efficiency", "all", "codebook_size", float(k), float("nan"), k),
    ]
