"""Robustness: share of tokens that change under coordinate noise, a rigid motion and a mirror image.

:func:`perturbations` makes the in-memory copies the benchmark scores; :func:`noisy_copies` and
:func:`pdb_rigid_copy` make whole-chain copies for held-out evaluations (the latter through a PDB file, as
users meet a moved structure).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from protok.bench.item import BenchItem
from protok.bench.results import Result
from protok.bench.scores import change_share
from protok.structures import ProteinChain, read_structure, write_structure

__all__ = ["noisy_copies", "pdb_rigid_copy", "perturbations", "robustness_tokens", "robustness"]


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


def noisy_copies(chains: Sequence[ProteinChain], sigma: float, seed: int = 0) -> list[ProteinChain]:
    """Each chain with isotropic Gaussian noise (``sigma`` Å per axis) on every atom.

    One generator, ``np.random.default_rng(seed)``, draws the noise of the chains in order, so a copy
    depends on the chains before it; coordinates stay float32.
    """
    rng = np.random.default_rng(seed)
    return [
        c.with_coords(c.coords + rng.normal(0.0, sigma, c.coords.shape).astype(np.float32)) for c in chains
    ]


def pdb_rigid_copy(chain: ProteinChain, path: str | Path, seed: int) -> ProteinChain:
    """``chain`` turned and moved by a random rigid motion, written to the PDB file ``path`` and read back.

    The motion is :func:`protok.testing.random_rigid_motion` of ``seed`` (a uniform rotation and a
    translation of 20 Å standard deviation per axis); the file holds coordinates rounded to 0.001 Å, as
    every PDB file does, and chain breaks are detected again from them on reading.

    Parameters
    ----------
    chain : ProteinChain
    path : str or Path
        The ``.pdb`` file to write (overwritten).
    seed : int

    Returns
    -------
    ProteinChain
        The chain as :func:`protok.structures.read_structure` reads it from ``path``.
    """
    from protok.testing import apply_rigid, random_rigid_motion

    rot, shift = random_rigid_motion(seed)
    moved = apply_rigid(chain, rot, shift)
    assert isinstance(moved, ProteinChain)
    write_structure(moved, Path(path))
    (back,) = read_structure(Path(path)).chains
    return back


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
