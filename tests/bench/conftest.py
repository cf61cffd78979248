"""Fixtures for the benchmark tests: the real data folder (skip when absent) and a small random model."""

from __future__ import annotations

from pathlib import Path

import pytest

from protok.bench.sources import default_data_dir
from protok.structures import Promod3Chains


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = default_data_dir()
    if not (d / "promod3" / "chains.npz").is_file():
        pytest.skip(f"real data not found under {d} (see shared/data/README.md)")
    return d


@pytest.fixture(scope="session")
def promod3(data_dir) -> Promod3Chains:
    return Promod3Chains(data_dir / "promod3" / "chains.npz")


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised small ProtokModel saved with save_model (no trained checkpoint needed)."""
    import torch

    from protok import models

    torch.manual_seed(0)
    model = models.ProtokModel(models.ModelConfig.preset("small"))
    return models.save_model(model, tmp_path_factory.mktemp("ckpt") / "random_small")
