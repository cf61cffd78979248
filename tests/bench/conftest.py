"""Fixtures for the benchmark tests: the real data folder (skip when absent) and a small random model."""

from __future__ import annotations

from pathlib import Path

import pytest

from protok.bench.data import default_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = default_data_dir()
    if not (d / "promod3" / "chains.npz").is_file():
        pytest.skip(f"real data not found under {d} (see shared/data/README.md)")
    return d


@pytest.fixture(scope="session")
def store(data_dir):
    from protok.bench.data import Promod3Store

    return Promod3Store(data_dir / "promod3" / "chains.npz")


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised small ProtokModel saved with save_model (no trained checkpoint needed)."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("protok.models")
    torch.manual_seed(0)
    model = models.ProtokModel(models.ModelConfig.preset("small"))
    return models.save_model(model, tmp_path_factory.mktemp("ckpt") / "random_small")
