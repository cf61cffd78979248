"""Hyper-parameters of the residue encoder (:class:`EncoderConfig`) and its named presets.

Kept apart from :mod:`protok.models.encoder` so that reading a model's config needs neither e3nn nor
torch_geometric.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protok.config import config_from_dict, config_to_dict
from protok.errors import ConfigError
from protok.graph.features import EDGE_S_DIM, NODE_S_DIM, NODE_V_DIM

__all__ = ["ENCODER_PRESETS", "EncoderConfig"]


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of :class:`Encoder` (plain JSON-serialisable values; frozen, so presets cannot be
    changed by accident: derive variants with ``dataclasses.replace``).

    Parameters
    ----------
    scalar_channels : int
        Number of ``0e`` channels of the node state.
    vector_channels : int
        Number of ``1o`` channels (and of ``2e`` channels when ``lmax == 2``).
    lmax : int
        Highest degree of spherical harmonics and of node features, 1 or 2.
    num_layers : int
        Number of interaction layers.
    radial_hidden : int
        Hidden width of the radial MLP mapping ``edge_s`` to tensor-product weights.
    k : int
        Neighbours per residue in the graph; messages are summed and divided by ``sqrt(k)``.
    out_dim : int
        Size of the output vector per residue.
    readout_hidden : int
        Hidden width of the invariant read-out MLP.
    dropout : float
        Dropout in the read-out MLP.
    node_s_dim, edge_s_dim, node_v_dim : int
        Input feature sizes; default to ``protok.graph.NODE_S_DIM`` / ``EDGE_S_DIM`` / ``NODE_V_DIM``.
    separation : str
        Bucketing of the sequence separation in the edge features: ``"clip32"`` (±32, the graph's own) or
        ``"log"`` (exact to ±16, then four buckets per doubling, the last from ±216); see
        :func:`protok.graph.separation_bucket`.
    """

    scalar_channels: int = 32
    vector_channels: int = 8
    lmax: int = 1
    num_layers: int = 3
    radial_hidden: int = 32
    k: int = 16
    out_dim: int = 128
    readout_hidden: int = 128
    dropout: float = 0.0
    node_s_dim: int = NODE_S_DIM
    edge_s_dim: int = EDGE_S_DIM
    node_v_dim: int = NODE_V_DIM
    separation: str = "clip32"

    def __post_init__(self) -> None:
        if self.separation not in ("clip32", "log"):
            raise ConfigError(f"EncoderConfig: separation must be 'clip32' or 'log', got {self.separation!r}")
        if self.lmax not in (1, 2):
            raise ConfigError(f"EncoderConfig: lmax must be 1 or 2, got {self.lmax}")
        for name in (
            "scalar_channels",
            "vector_channels",
            "num_layers",
            "radial_hidden",
            "k",
            "out_dim",
            "readout_hidden",
            "node_s_dim",
            "edge_s_dim",
            "node_v_dim",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"EncoderConfig: {name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"EncoderConfig: dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>", key: str = "") -> EncoderConfig:
        """Inverse of :meth:`to_dict` (:func:`protok.config.config_from_dict`): unknown keys, wrong types
        and bad values raise :class:`~protok.errors.ConfigError`."""
        return config_from_dict(cls, data, source=source, key=key)


ENCODER_PRESETS: dict[str, EncoderConfig] = {
    # CPU: <= 20 ms per 300-residue chain on 2 cores (benchmarks/encoder_speed.py).
    "small": EncoderConfig(
        scalar_channels=32, vector_channels=8, lmax=1, num_layers=3, radial_hidden=32, out_dim=128
    ),
    # GPU training.
    "base": EncoderConfig(
        scalar_channels=128,
        vector_channels=32,
        lmax=2,
        num_layers=5,
        radial_hidden=64,
        out_dim=256,
        readout_hidden=256,
    ),
}
