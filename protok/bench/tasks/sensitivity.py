"""Sensitivity: does the token alignment score of two structures track their TM-score?

Tokens of a pair are aligned globally (biotite ``align_optimal``, linear gap −10) with a substitution
matrix of round(100 × cosine similarity) between L2-normalised code vectors; the raw alignment score is
correlated (Pearson, Spearman) with the TM-score (tmtools TM-align, mean of both normalisations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from protok.bench.dataset import BenchDataset
from protok.bench.results import Result
from protok.bench.scores import pairwise_cosine, pearson, spearman

__all__ = ["sample_pairs", "tm_scores", "alignment_scores", "sensitivity"]


def sample_pairs(ds: BenchDataset, n: int, *, seed: int = 42) -> list[tuple[str, str]]:
    """``n`` pairs of SCOP chains: half within a fold (similar), half at random (mostly dissimilar)."""
    rng = np.random.default_rng(seed)
    ids = sorted(ds.scop)
    by_fold: dict[int, list[str]] = {}
    for c in ids:
        by_fold.setdefault(ds.scop[c][0], []).append(c)
    multi = [f for f in sorted(by_fold) if len(by_fold[f]) >= 2]
    pairs: set[tuple[str, str]] = set()
    tries = 0
    while len(pairs) < n and tries < 50 * n and len(ids) >= 2:
        tries += 1
        if multi and len(pairs) % 2 == 0:
            f = multi[rng.integers(len(multi))]
            a, b = rng.choice(by_fold[f], 2, replace=False)
        else:
            a, b = rng.choice(ids, 2, replace=False)
        pairs.add((str(min(a, b)), str(max(a, b))))
    return sorted(pairs)


def tm_scores(ds: BenchDataset, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """TM-score (mean of the two normalisations) per pair, shape=(n,)."""
    from tmtools import tm_align

    out = np.empty(len(pairs))
    for i, (a, b) in enumerate(pairs):
        ca, cb = ds.items[a].chain, ds.items[b].chain
        r = tm_align(
            np.ascontiguousarray(ca.ca, np.float64),
            np.ascontiguousarray(cb.ca, np.float64),
            ca.sequence,
            cb.sequence,
        )
        out[i] = 0.5 * (r.tm_norm_chain1 + r.tm_norm_chain2)
    return out


def alignment_scores(
    tokens: Mapping[str, np.ndarray], codes: np.ndarray, pairs: Sequence[tuple[str, str]], *, gap: int = -10
) -> np.ndarray:
    """Global alignment score of the token sequences of each pair, shape=(n,).

    Undefined tokens (−1) become an extra symbol scoring 0 against everything.
    """
    import biotite.sequence as bseq
    import biotite.sequence.align as align

    codebook_size = codes.shape[0]
    score = np.zeros((codebook_size + 1, codebook_size + 1), np.int32)
    score[:codebook_size, :codebook_size] = np.rint(100 * pairwise_cosine(codes)).astype(np.int32)
    alph = bseq.Alphabet(list(range(codebook_size + 1)))
    matrix = align.SubstitutionMatrix(alph, alph, score)
    out = np.empty(len(pairs))
    for i, (a, b) in enumerate(pairs):
        sa, sb = bseq.GeneralSequence(alph), bseq.GeneralSequence(alph)
        sa.code = np.where(tokens[a] < 0, codebook_size, tokens[a]).astype(np.int64)
        sb.code = np.where(tokens[b] < 0, codebook_size, tokens[b]).astype(np.int64)
        ali = align.align_optimal(sa, sb, matrix, gap_penalty=gap, terminal_penalty=False, max_number=1)[0]
        out[i] = ali.score
    return out


def sensitivity(
    tokens: Mapping[str, np.ndarray],
    codes: np.ndarray,
    pairs: Sequence[tuple[str, str]],
    tm: np.ndarray,
    *,
    tokenizer: str,
) -> tuple[list[Result], np.ndarray]:
    """Pearson and Spearman between alignment score and TM-score; also returns the scores (for plots)."""
    scores = alignment_scores(tokens, codes, pairs)
    n = len(pairs)
    return [
        Result(tokenizer, "sensitivity", "pairs", "pearson", pearson(scores, tm), float("nan"), n),
        Result(tokenizer, "sensitivity", "pairs", "spearman", spearman(scores, tm), float("nan"), n),
    ], scores
