"""Batching residue graphs for the encoder without torch_geometric (:class:`GraphBatch`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from protok.graph.features import EDGE_FIELDS

__all__ = ["ENCODER_FIELDS", "GraphBatch"]

#: The graph fields the encoder reads (node features, mask, edges, raw edge geometry and the residue layout
#: that separation buckets and the chain-context layers use).
ENCODER_FIELDS: tuple[str, ...] = (
    "node_s",
    "node_v",
    "node_mask",
    "edge_index",
    "edge_vec",
    *EDGE_FIELDS,
    "residue_idx",
    "chain_idx",
    "chain_break",
)


class GraphBatch:
    """Graphs' fields concatenated as ``torch_geometric.data.Batch.from_data_list`` does for them.

    Node and edge fields are concatenated along the first dimension and ``edge_index`` along the last, each
    graph's node ids shifted by the nodes before it; ``batch`` holds each node's graph number. Fields are
    attributes (``b.node_s``), as on a ``Batch``, so the encoder takes either. This is the inference path's
    batcher: a ``Batch`` would import torch_geometric (most of a second per process) and collate every
    field of every graph through generic code; this concatenates only what the encoder reads.

    Parameters
    ----------
    fields : dict of str to Tensor
        Concatenated fields.
    num_nodes : int
    batch : Tensor, shape=(num_nodes,), dtype=long
    """

    def __init__(self, fields: dict[str, Tensor], num_nodes: int, batch: Tensor) -> None:
        self._fields = fields
        self.num_nodes = num_nodes
        self.batch = batch

    @classmethod
    def from_graphs(
        cls, graphs: Sequence[Mapping[str, Any]], fields: Sequence[str] = ENCODER_FIELDS
    ) -> GraphBatch:
        """Batch graphs given as mappings of field name to tensor (with ``num_nodes``), e.g. the dicts of
        :func:`protok.graph.graph_fields` or ``torch_geometric`` ``Data`` objects.

        Raises
        ------
        KeyError
            A graph lacks one of ``fields``.
        """
        if not graphs:
            raise ValueError("GraphBatch.from_graphs needs at least one graph")
        sizes = [int(g["num_nodes"]) for g in graphs]
        out: dict[str, Tensor] = {}
        for name in fields:
            parts = [g[name] for g in graphs]
            if name == "edge_index":
                offset = 0
                shifted = []
                for part, n in zip(parts, sizes, strict=True):
                    shifted.append(part + offset if offset else part)
                    offset += n
                out[name] = torch.cat(shifted, dim=-1) if len(shifted) > 1 else shifted[0]
            else:
                out[name] = torch.cat(parts, dim=0) if len(parts) > 1 else parts[0]
        batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
        return cls(out, sum(sizes), batch)

    def to(self, device: str | torch.device) -> GraphBatch:
        """The same batch on ``device``."""
        return GraphBatch(
            {k: v.to(device) for k, v in self._fields.items()}, self.num_nodes, self.batch.to(device)
        )

    def keys(self) -> list[str]:
        """Field names."""
        return list(self._fields)

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        # Optional fields read with getattr(..., None) are simply absent.
        raise AttributeError(f"GraphBatch has no field {name!r} (fields: {', '.join(fields)})")

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={list(v.shape)}" for k, v in self._fields.items())
        return f"GraphBatch(num_nodes={self.num_nodes}, {shapes})"
