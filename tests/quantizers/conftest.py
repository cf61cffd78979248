"""Fixtures for quantizer tests: every configured quantizer variant, small sizes."""

from __future__ import annotations

import pytest
import torch

from protok.quantizers import QuantizerConfig, build_quantizer

K, D = 64, 16

#: (id, config overrides) for every quantizer family and ProVQ mechanism / inner combination.
VARIANTS: list[tuple[str, dict]] = [
    ("vq", {"kind": "vq"}),
    ("ema", {"kind": "ema"}),
    ("aminoaseed", {"kind": "aminoaseed"}),
    ("fsq", {"kind": "fsq", "fsq_levels": [4, 4, 4]}),
    ("provq-interp-vq", {"kind": "provq", "mechanism": "interp", "inner": "vq"}),
    ("provq-stochastic-vq", {"kind": "provq", "mechanism": "stochastic", "inner": "vq"}),
    ("provq-interp-ema", {"kind": "provq", "mechanism": "interp", "inner": "ema"}),
    ("provq-stochastic-aminoaseed", {"kind": "provq", "mechanism": "stochastic", "inner": "aminoaseed"}),
]


def make(overrides: dict, **more) -> torch.nn.Module:
    """Build a small quantizer (K=64, D=16) from config overrides."""
    return build_quantizer(QuantizerConfig(codebook_size=K, dim=D, **{**overrides, **more}))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: OpenMP threads only add contention on the shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_quantizer():
    """Factory: ``make_quantizer(overrides, **more)`` builds a K=64, D=16 quantizer."""
    return make


@pytest.fixture(params=VARIANTS, ids=[v[0] for v in VARIANTS])
def variant(request) -> tuple[str, dict]:
    return request.param


@pytest.fixture
def z() -> torch.Tensor:
    """A batch of 200 'encoder outputs' from a mixture of 10 Gaussian clusters (D=16)."""
    g = torch.Generator().manual_seed(1)
    centres = 3 * torch.randn(10, D, generator=g)
    labels = torch.randint(10, (200,), generator=g)
    return centres[labels] + 0.3 * torch.randn(200, D, generator=g)
