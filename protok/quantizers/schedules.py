"""Hardness schedules for progressive quantization: ``alpha(progress)`` in [0, 1].

Each schedule is a pure function of training progress. Between ``start`` and ``end`` (fractions of training)
the normalised time ``t = (progress - start) / (end - start)`` runs from 0 to 1 and the schedule maps it
smoothly and monotonically onto [0, 1]; before ``start`` the hardness is exactly 0 and from ``end`` on it is
exactly 1 (fully discrete).

- ``linear``: ``t``.
- ``cosine``: ``(1 - cos(pi t)) / 2`` -- zero slope at both ends.
- ``sigmoid``: a logistic curve ``sigma(steepness (t - 1/2))`` (``steepness`` 12 by default), affinely
  rescaled so that it is exactly 0 at ``t = 0`` and exactly 1 at ``t = 1``.

Examples
--------
>>> hardness(0.25, schedule="linear", start=0.0, end=0.5)
0.5
>>> hardness(0.9, schedule="cosine", start=0.0, end=0.5)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

from protok.errors import ConfigError

__all__ = ["SCHEDULES", "cosine", "hardness", "linear", "sigmoid"]


def linear(t: float) -> float:
    """Linear ramp, ``t`` for ``t`` in [0, 1]."""
    return t


def cosine(t: float) -> float:
    """Half-cosine ramp ``(1 - cos(pi t)) / 2``: 0 at 0, 1 at 1, zero slope at both ends."""
    return 0.5 * (1.0 - math.cos(math.pi * t))


def sigmoid(t: float, steepness: float = 12.0) -> float:
    """Logistic ramp centred at ``t = 1/2``, rescaled to hit exactly 0 and 1 at the ends.

    Parameters
    ----------
    t : float
        Normalised time in [0, 1].
    steepness : float
        Slope of ``sigma(steepness (t - 1/2))``; larger is closer to a step.
    """
    lo = 1.0 / (1.0 + math.exp(0.5 * steepness))
    hi = 1.0 / (1.0 + math.exp(-0.5 * steepness))
    mid = 1.0 / (1.0 + math.exp(-steepness * (t - 0.5)))
    return (mid - lo) / (hi - lo)


#: Registered schedules: name -> function of normalised time t in [0, 1] returning alpha in [0, 1].
SCHEDULES: dict[str, Callable[[float], float]] = {"linear": linear, "cosine": cosine, "sigmoid": sigmoid}


def hardness(progress: float, *, schedule: str = "cosine", start: float = 0.0, end: float = 0.5) -> float:
    """Quantization hardness ``alpha`` at a point of training.

    Parameters
    ----------
    progress : float
        Fraction of training done, in [0, 1] (values outside are clamped by the schedule's plateaus).
    schedule : str
        A key of :data:`SCHEDULES`.
    start, end : float
        Fractions of training where the ramp begins and ends (``start <= end``). With ``start == end``
        the hardness is a step: 0 before, 1 from ``end`` on.

    Returns
    -------
    float
        ``alpha`` in [0, 1]: exactly 0.0 for ``progress <= start`` (when ``start < end``), exactly 1.0 for
        ``progress >= end``, non-decreasing in between.

    Raises
    ------
    ConfigError
        Unknown schedule name or ``start > end``.
    """
    try:
        fn = SCHEDULES[schedule]
    except KeyError:
        raise ConfigError(
            f"unknown hardness schedule {schedule!r}; choose from {sorted(SCHEDULES)}"
        ) from None
    if start > end:
        raise ConfigError(f"anneal_start ({start}) must not exceed anneal_end ({end})")
    if progress >= end:
        return 1.0
    if progress <= start:
        return 0.0
    t = (progress - start) / (end - start)
    return min(1.0, max(0.0, float(fn(t))))
