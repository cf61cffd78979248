"""GraphBatch batches encoder fields exactly as torch_geometric's Batch does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from protok.graph import ENCODER_FIELDS, GraphBatch, build_graph, graph_fields
from protok.structures import read_structure


def test_same_fields_as_torch_geometric_batch(structures_dir: Path) -> None:
    chains = list(read_structure(structures_dir / "2xhe.pdb.gz").chains[:2])
    chains.append(read_structure(structures_dir / "1ubi.pdb").chains[0])
    graphs = [graph_fields(c) for c in chains]
    ref = Batch.from_data_list([build_graph(c) for c in chains])
    got = GraphBatch.from_graphs(graphs)
    assert got.num_nodes == ref.num_nodes
    assert torch.equal(got.batch, ref.batch)
    for name in ENCODER_FIELDS:
        assert torch.equal(getattr(got, name), getattr(ref, name)), name
    one = GraphBatch.from_graphs(graphs[:1])  # a single graph is passed through
    assert torch.equal(one.edge_index, graphs[0]["edge_index"])
    assert one.to("cpu").keys() == list(ENCODER_FIELDS)


def test_errors(structures_dir: Path) -> None:
    with pytest.raises(ValueError, match="at least one graph"):
        GraphBatch.from_graphs([])
    g = graph_fields(read_structure(structures_dir / "1ubi.pdb").chains[0])
    del g["edge_dir"]
    with pytest.raises(KeyError, match="edge_dir"):
        GraphBatch.from_graphs([g])
    b = GraphBatch.from_graphs([graph_fields(read_structure(structures_dir / "1ubi.pdb").chains[0])])
    assert getattr(b, "edge_s", None) is None
    with pytest.raises(AttributeError, match="no field 'coords'"):
        _ = b.coords
