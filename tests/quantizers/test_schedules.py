from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protok.errors import ConfigError
from protok.quantizers.schedules import SCHEDULES, hardness


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_end_points_are_exact(name: str) -> None:
    assert SCHEDULES[name](0.0) == pytest.approx(0.0, abs=1e-12)
    assert SCHEDULES[name](1.0) == pytest.approx(1.0, abs=1e-12)
    assert hardness(0.0, schedule=name, start=0.1, end=0.6) == 0.0
    assert hardness(0.1, schedule=name, start=0.1, end=0.6) == 0.0
    assert hardness(0.6, schedule=name, start=0.1, end=0.6) == 1.0
    assert hardness(1.0, schedule=name, start=0.1, end=0.6) == 1.0


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_midpoint_is_half(name: str) -> None:
    # all three are symmetric about the middle of the ramp
    assert hardness(0.35, schedule=name, start=0.1, end=0.6) == pytest.approx(0.5, abs=1e-9)


def test_shapes_differ() -> None:
    at = {n: hardness(0.2, schedule=n, start=0.0, end=1.0) for n in SCHEDULES}
    assert at["linear"] == pytest.approx(0.2)
    assert at["cosine"] == pytest.approx(0.5 * (1 - math.cos(0.2 * math.pi)))
    assert at["sigmoid"] < at["cosine"] < at["linear"]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@given(a=st.floats(-0.5, 1.5), b=st.floats(-0.5, 1.5))
def test_monotone_and_bounded(name: str, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    x, y = (hardness(p, schedule=name, start=0.2, end=0.7) for p in (lo, hi))
    assert 0.0 <= x <= y <= 1.0


def test_step_when_start_equals_end() -> None:
    assert hardness(0.29, schedule="linear", start=0.3, end=0.3) == 0.0
    assert hardness(0.3, schedule="linear", start=0.3, end=0.3) == 1.0


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="unknown hardness schedule"):
        hardness(0.5, schedule="exp")
    with pytest.raises(ConfigError, match="must not exceed"):
        hardness(0.5, start=0.8, end=0.2)
