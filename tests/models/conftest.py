"""Fixtures for the decoder and ProtokModel tests: real chains from structures/ and a tiny model config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from protok.models.decoder import DecoderConfig
from protok.models.encoder import EncoderConfig
from protok.models.losses import LossConfig
from protok.models.model import ModelConfig
from protok.quantizers.config import QuantizerConfig


def _read(structures_dir: Path, name: str):
    from protok.structures import read_structure

    path = structures_dir / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return read_structure(path)


@pytest.fixture(scope="session")
def ubiquitin(structures_dir: Path):
    """structures/1ubi.pdb chain A (76 residues, no breaks)."""
    return _read(structures_dir, "1ubi.pdb").chains[0]


@pytest.fixture(scope="session")
def two_chains_with_breaks(structures_dir: Path):
    """Two real chains with chain breaks: 2xhe chain A residues 480..566 (break at 510, last residue
    incomplete) and chain B residues 0..100 (break at 14)."""
    cx = _read(structures_dir, "2xhe.pdb.gz")
    return [cx["A"].slice(480, 567), cx["B"].slice(0, 100)]


@pytest.fixture
def tiny_config() -> ModelConfig:
    """A very small model so that tests run in seconds on 2 shared cores."""
    return ModelConfig(
        encoder=EncoderConfig(
            scalar_channels=8,
            vector_channels=4,
            num_layers=1,
            radial_hidden=16,
            out_dim=32,
            readout_hidden=32,
        ),
        quantizer=QuantizerConfig(kind="provq", codebook_size=64, dim=16, kmeans_iters=2),
        decoder=DecoderConfig(
            input_dim=16, d_model=32, n_layers=2, n_heads=2, ffn_mult=2, n_refine=1, pair_dim=8
        ),
        loss=LossConfig(),
        name="tiny-test",
    )


@pytest.fixture(scope="session")
def graph_of():
    from protok.graph import build_graph

    def make(x) -> Batch:
        return Batch.from_data_list([build_graph(x, k=16)])

    return make


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: on a shared, oversubscribed 2-core machine, 2 threads were ~10x slower
    (spin-waiting) for these small models. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
