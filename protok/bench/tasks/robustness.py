"""Robustness: share of tokens that change under coordinate noise, a rigid motion and a mirror image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protok.bench.item import BenchItem
from protok.bench.results import Result
from protok.bench.scores import change_share

__all__ = ["perturbations", "robustness_tokens", "robustness"]


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def perturbations(coords: np.ndarray, noise_levels: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    """Perturbed copies of ``coords`` (L, 4, 3): ``noise_<σ>`` (isotropic Gaussian, σ in Å per axis),
    ``rigid`` (random rotation + translation up to 50 Å) and ``mirror`` (x -> −x)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(coords, np.float64)
    out = {f"noise_{s:g}": x + rng.normal(0, s, x.shape) for s in noise_levels}
    out["rigid"] = x @ _random_rotation(rng).T + rng.uniform(-50, 50, 3)
    m = x.copy()
    m[..., 0] *= -1
    out["mirror"] = m
    return {k: v.astype(np.float32) for k, v in out.items()}


def robustness_tokens(adapter, items: Sequence[BenchItem], noise_levels: Sequence[float], seed: int = 0):
    """Tokens of each perturbation, concatenated over ``items``: dict name -> ndarray (sum L,)."""
    per: dict[str, list[np.ndarray]] = {}
    for j, it in enumerate(items):
        for name, xyz in perturbations(it.chain.coords, noise_levels, seed + j).items():
            per.setdefault(name, []).append(adapter.encode(it.perturbed(xyz)))
    return {k: np.concatenate(v) for k, v in per.items()}


def robustness(
    reference: np.ndarray, perturbed: dict[str, np.ndarray], *, tokenizer: str, n_chains: int
) -> list[Result]:
    """One ``change_share`` row per perturbation (``split`` = perturbation name)."""
    out = []
    for name, toks in perturbed.items():
        share, n = change_share(reference, toks)
        out.append(Result(tokenizer, "robustness", name, "change_share", share, float("nan"), n))
    return out
