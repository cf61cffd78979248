"""Distinctiveness: how different the code vectors are (pairwise cosine similarity, plain and by usage)."""

from __future__ import annotations

import numpy as np

from protok.bench.results import Result
from protok.bench.scores import pairwise_cosine, weighted_mean_std

__all__ = ["distinctiveness", "cosine_pairs"]


def cosine_pairs(codes: np.ndarray, usage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Off-diagonal pair cosines and pair weights p_i·p_j, each shape=(K(K−1)/2,)."""
    codebook_size = codes.shape[0]
    iu = np.triu_indices(codebook_size, 1)
    p = usage / usage.sum() if usage.sum() > 0 else np.full(codebook_size, 1.0 / codebook_size)
    return pairwise_cosine(codes)[iu], (p[:, None] * p[None, :])[iu]


def distinctiveness(codes: np.ndarray, usage: np.ndarray, *, tokenizer: str) -> list[Result]:
    """Mean ± std of pairwise code cosine similarity, plain (all code pairs) and usage-weighted.

    Parameters
    ----------
    codes : ndarray, shape=(K, D)
    usage : ndarray, shape=(K,)
        Token counts over the data set.
    """
    cos, w = cosine_pairs(codes, usage)
    m, s = weighted_mean_std(cos, w)
    n = len(cos)
    return [
        Result(
            tokenizer, "distinctiveness", "codebook", "cosine_mean", float(cos.mean()), float(cos.std()), n
        ),
        Result(tokenizer, "distinctiveness", "codebook", "cosine_usage_weighted", m, s, n),
    ]
