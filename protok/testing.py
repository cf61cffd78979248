"""Test helpers shipped with protok: random rigid motions, mirror images, invariance assertions.

Used by protok's own tests and by anyone checking that a featuriser, encoder or tokenizer is SE(3)
invariant (token ids, invariant features) or equivariant (vector outputs).

Examples
--------
>>> import numpy as np
>>> from protok.structures import ProteinChain
>>> xyz = np.random.default_rng(0).normal(size=(20, 4, 3)).astype(np.float32) * 5
>>> chain = ProteinChain(coords=xyz, atom_mask=np.ones((20, 4), bool), sequence="A" * 20)
>>> def ca_dists(c):
...     return np.linalg.norm(c.ca[:, None] - c.ca[None], axis=-1)
>>> assert_invariant(ca_dists, chain, n=5, atol=1e-3)
>>> assert_equivariant_vectors(lambda c: c.ca, chain, n=5, positions=True, atol=1e-3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from protok.structures.chain import ProteinChain, ProteinComplex

__all__ = [
    "Structure",
    "random_rotation",
    "random_rigid_motion",
    "apply_rigid",
    "mirror",
    "assert_invariant",
    "assert_equivariant_vectors",
]

#: What the helpers transform: one chain or a whole complex.
Structure = ProteinChain | ProteinComplex
GeneratorLike = torch.Generator | int | None


def _generator(generator: GeneratorLike) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    g = torch.Generator()
    g.manual_seed(0 if generator is None else int(generator))
    return g


def random_rotation(generator: GeneratorLike = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A uniformly random proper rotation (Haar measure on SO(3)), via QR of a Gaussian matrix.

    Parameters
    ----------
    generator : torch.Generator or int or None
        Source of randomness; an int is a seed; None means seed 0 (reproducible by default).
    dtype : torch.dtype

    Returns
    -------
    Tensor, shape=(3, 3)
        ``R`` with ``R @ R.T = I`` and ``det(R) = +1``.
    """
    g = _generator(generator)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)


def random_rigid_motion(
    generator: GeneratorLike = None, dtype: torch.dtype = torch.float64, translation_scale: float = 20.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random rotation and a Gaussian translation (standard deviation ``translation_scale`` Å per axis).

    Returns
    -------
    R : Tensor, shape=(3, 3)
    t : Tensor, shape=(3,)
        Apply as ``x @ R.T + t`` (see :func:`apply_rigid`).
    """
    g = _generator(generator)
    rot = random_rotation(g, dtype=dtype)
    t = torch.randn(3, generator=g, dtype=torch.float64) * translation_scale
    return rot, t.to(dtype)


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _transform_coords(s: Structure, fn: Callable[[np.ndarray], np.ndarray]) -> Structure:
    if isinstance(s, ProteinChain):
        return s.with_coords(fn(s.coords.astype(np.float64)))
    if isinstance(s, ProteinComplex):
        return ProteinComplex(
            chains=tuple(_transform_coords(c, fn) for c in s.chains),  # type: ignore[misc]
            ligands=s.ligands,
            waters=s.waters,
            skipped=s.skipped,
            source=s.source,
            model=s.model,
        )
    raise TypeError(f"expected ProteinChain or ProteinComplex, got {type(s).__name__}")


def apply_rigid(
    structure: Structure, R: torch.Tensor | np.ndarray, t: torch.Tensor | np.ndarray | None = None
) -> Structure:
    """Move every atom ``x -> R @ x + t`` (row vectors: ``x @ R.T + t``); masks and annotations kept.

    Parameters
    ----------
    structure : ProteinChain or ProteinComplex
    R : Tensor or ndarray, shape=(3, 3)
        Any 3x3 matrix (a rotation for a rigid motion; a reflection works too).
    t : Tensor or ndarray, shape=(3,), optional

    Returns
    -------
    ProteinChain or ProteinComplex
        Same type as the input; coordinates computed in float64 and stored as float32.
    """
    rot = _np(R).astype(np.float64)
    shift = np.zeros(3) if t is None else _np(t).astype(np.float64)
    if rot.shape != (3, 3) or shift.shape != (3,):
        raise ValueError(f"R must be (3, 3) and t (3,), got {rot.shape} and {shift.shape}")
    return _transform_coords(structure, lambda x: x @ rot.T + shift)


def mirror(structure: Structure, axis: int = 0) -> Structure:
    """Mirror image: negate coordinate ``axis`` (0, 1 or 2) of every atom (an improper motion).

    A mirror turns L- into D-amino acids; chiral features (dihedral signs, frame handedness) must change.
    """
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
    flip = np.eye(3)
    flip[axis, axis] = -1.0
    return apply_rigid(structure, flip)


def _flatten(out: Any, prefix: str = "") -> list[tuple[str, np.ndarray]]:
    """Leaves of a (nested) tensor / ndarray / tuple / list / dict output, with a path for messages."""
    if isinstance(out, Mapping):
        return [leaf for key in sorted(out) for leaf in _flatten(out[key], f"{prefix}[{key!r}]")]
    if isinstance(out, Sequence) and not isinstance(out, str | bytes):
        return [leaf for i, v in enumerate(out) for leaf in _flatten(v, f"{prefix}[{i}]")]
    if hasattr(out, "to_dict") and callable(out.to_dict) and not isinstance(out, torch.Tensor | np.ndarray):
        return _flatten(out.to_dict(), prefix)  # e.g. torch_geometric Data
    return [(prefix or "output", _np(out))]


def _compare(
    name: str, ref: np.ndarray, got: np.ndarray, atol: float, rtol: float, max_int_mismatch: float, what: str
) -> None:
    if ref.shape != got.shape:
        raise AssertionError(f"{what}: {name} changed shape {ref.shape} -> {got.shape}")
    if ref.dtype.kind in "biuUSO" or got.dtype.kind in "biuUSO":
        bad = ref != got
        frac = float(bad.mean()) if bad.size else 0.0
        if frac > max_int_mismatch:
            raise AssertionError(
                f"{what}: {name} (dtype {ref.dtype}) differs at {int(bad.sum())}/{bad.size} entries "
                f"({frac:.2%} > allowed {max_int_mismatch:.2%})"
            )
        return
    if not np.allclose(got, ref, atol=atol, rtol=rtol, equal_nan=True):
        err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        err = np.where(np.isnan(err), np.inf, err)
        idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
        raise AssertionError(
            f"{what}: {name} max abs error {float(err.max()):.3g} at {tuple(int(i) for i in idx)} "
            f"(atol={atol}, rtol={rtol})"
        )


def assert_invariant(
    fn: Callable[[Structure], Any],
    chain: Structure,
    n: int = 20,
    *,
    generator: GeneratorLike = None,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    max_int_mismatch: float = 0.0,
    translation_scale: float = 20.0,
) -> None:
    """Assert ``fn(chain)`` is unchanged under ``n`` random rigid motions of ``chain``.

    Parameters
    ----------
    fn : callable
        Takes a ProteinChain / ProteinComplex and returns a Tensor or ndarray (or a tuple / list / dict of
        them, or a torch_geometric ``Data``, compared leaf by leaf).
    chain : ProteinChain or ProteinComplex
    n : int
        Number of random motions tried.
    generator : torch.Generator or int or None
        Randomness (int = seed; None = seed 0).
    atol, rtol : float
        Tolerance for floating outputs (``numpy.allclose``; NaN equals NaN).
    max_int_mismatch : float
        Fraction of integer / bool entries allowed to differ (default 0: exact). Coordinates are stored
        as float32, so near-ties (e.g. two equidistant neighbours) may legitimately flip; raise this only
        with a reason.
    translation_scale : float
        Standard deviation of the random translation per axis (Å).

    Raises
    ------
    AssertionError
        Naming the output leaf, the motion number and the largest deviation.
    """
    g = _generator(generator)
    ref = _flatten(fn(chain))
    for trial in range(n):
        rot, t = random_rigid_motion(g, translation_scale=translation_scale)
        got = _flatten(fn(apply_rigid(chain, rot, t)))
        if [k for k, _ in got] != [k for k, _ in ref]:
            raise AssertionError(f"rigid motion {trial}: output structure changed")
        for (name, a), (_, b) in zip(ref, got):
            _compare(name, a, b, atol, rtol, max_int_mismatch, f"rigid motion {trial}")


def assert_equivariant_vectors(
    fn: Callable[[Structure], Any],
    chain: Structure,
    n: int = 20,
    *,
    positions: bool = False,
    generator: GeneratorLike = None,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    translation_scale: float = 20.0,
) -> None:
    """Assert ``fn`` is rotation-equivariant: ``fn(R x + t) = fn(x) R^T`` (vectors, last axis of size 3).

    Parameters
    ----------
    fn : callable
        Takes a ProteinChain / ProteinComplex, returns a Tensor or ndarray of shape (..., 3) (or a tuple /
        list / dict of them).
    chain : ProteinChain or ProteinComplex
    n : int
        Number of random motions tried.
    positions : bool
        False (default): outputs are free vectors (differences, directions), which rotate but do not
        translate. True: outputs are positions, expected to move as ``v R^T + t``.
    generator, atol, rtol, translation_scale
        As in :func:`assert_invariant`.
    """
    g = _generator(generator)
    ref = _flatten(fn(chain))
    for name, a in ref:
        if a.shape[-1:] != (3,):
            raise AssertionError(f"{name}: expected vectors with a last axis of size 3, got shape {a.shape}")
    for trial in range(n):
        rot, t = random_rigid_motion(g, translation_scale=translation_scale)
        rot_np, t_np = rot.numpy(), t.numpy()
        got = _flatten(fn(apply_rigid(chain, rot, t)))
        for (name, a), (_, b) in zip(ref, got):
            expected = a.astype(np.float64) @ rot_np.T + (t_np if positions else 0.0)
            _compare(name, expected, b, atol, rtol, 0.0, f"rigid motion {trial}")
