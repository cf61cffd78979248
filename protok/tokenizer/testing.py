"""A random-initialised but *non-degenerate* model for tests and benchmarks that need a model of a given shape.

A freshly initialised :class:`~protok.models.ProtokModel` maps nearly every residue to the same code (random
code vectors are far from the small encoder outputs), which would make token tests pass vacuously. Here the
codebook is set from encoder outputs of real residues (plus noise), as k-means-style initialisation does, so
tokens vary from residue to residue and near-ties between codes are realistic.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from protok.structures.chain import ProteinChain

if TYPE_CHECKING:  # pragma: no cover
    from protok.models import ModelConfig

__all__ = ["make_test_model"]


@torch.no_grad()
def make_test_model(
    directory: str | os.PathLike[str],
    chains: Sequence[ProteinChain],
    *,
    preset: str = "small",
    config: ModelConfig | None = None,
    seed: int = 0,
    noise: float = 0.05,
) -> Path:
    """Build, codebook-initialise and save a model; returns its folder (load it with ``protok.load``).

    Parameters
    ----------
    directory : path
        Output folder (``config.json`` + ``model.safetensors``).
    chains : sequence of ProteinChain
        Real chains whose residue embeddings seed the codebook (a few hundred residues are enough).
    preset : str
        ``protok.models.MODEL_PRESETS`` key.
    config : ModelConfig, optional
        The model's config (instead of ``preset``), e.g. one with another neighbour count.
    seed : int
        Torch seed for the weights and the codebook sampling.
    noise : float
        Gaussian noise added to the sampled embeddings, relative to their standard deviation.
    """
    from torch_geometric.data import Batch

    from protok.graph import build_graph
    from protok.models import ModelConfig, ProtokModel, save_model

    torch.manual_seed(seed)
    model = ProtokModel(config if config is not None else ModelConfig.preset(preset)).eval()
    k = model.config.encoder.k
    batch = Batch.from_data_list([build_graph(c, k=k) for c in chains])
    z = model.embed(batch)[batch.node_mask.bool()]
    if z.shape[0] == 0:
        raise ValueError("no residue with a backbone frame in the seed chains")
    weight = model.quantizer.codebook()
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, z.shape[0], (weight.shape[0],), generator=g)
    codes = z[rows] + noise * z.std() * torch.randn(weight.shape, generator=g)
    state = model.quantizer.state_dict()
    key = next(n for n, v in state.items() if tuple(v.shape) == tuple(weight.shape))
    state[key] = codes.to(state[key].dtype)
    for name, v in state.items():
        if name.endswith("initted"):
            state[name] = torch.ones_like(v)
    model.quantizer.load_state_dict(state)
    card = {"name": "test model", "note": f"random init (seed {seed}), codebook from real residue embeddings"}
    return save_model(model, directory, card=card)
