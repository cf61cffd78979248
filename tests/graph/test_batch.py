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


def test_dense_batch_matches_torch_geometric(structures_dir: Path) -> None:
    from torch_geometric.utils import to_dense_batch

    from protok.graph import dense_batch

    chains = list(read_structure(structures_dir / "2xhe.pdb.gz").chains)
    chains.append(read_structure(structures_dir / "1ubi.pdb").chains[0].slice(0, 1))  # a one-residue graph
    coords = torch.cat([torch.as_tensor(c.coords) for c in chains])  # (N, 4, 3)
    batch = torch.cat([torch.full((len(c),), i) for i, c in enumerate(chains)])
    for x in (coords, coords[:, 1, 0], batch % 2 == 0):
        got, got_mask = dense_batch(x, batch)
        ref, ref_mask = to_dense_batch(x, batch)
        torch.testing.assert_close(got, ref, rtol=0, atol=0, equal_nan=True)  # 2xhe A617 has no CA: NaN
        assert torch.equal(got_mask, ref_mask)
