"""Building blocks both encoder forms share: the dense matrices of e3nn's ``o3.Linear``, and the blocked
inference path of the edge embedding and message sums (the same bits as the plain one)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from e3nn import o3

from protok.graph import GraphBatch, graph_fields
from protok.models import encoder_ops
from protok.models.encoder_config import EncoderConfig
from protok.models.encoder_ops import (
    NeighbourTable,
    encoder_inputs,
    node_blocks,
    o3_linear_matrix,
)
from protok.models.encoder_torch import PlainTorchEncoder
from protok.structures import read_structure


def test_dense_matrices_equal_e3nn_linear_bits() -> None:
    torch.manual_seed(1)
    # Repeated and interleaved irreps, as the tensor product's unsimplified output has.
    cases = [
        ("9x0e + 3x1o", "32x0e + 8x1o"),
        ("32x0e + 32x1o + 8x1o + 8x0e", "40x0e + 8x1o"),
        ("4x1o + 2x0e", "3x0e + 5x1o"),
    ]
    for ir_in, ir_out in cases:
        lin = o3.Linear(o3.Irreps(ir_in), o3.Irreps(ir_out))
        with torch.no_grad():
            lin.weight.normal_()
        want = lin(torch.eye(lin.irreps_in.dim))
        got = o3_linear_matrix(
            [(m, ir.l) for m, ir in lin.irreps_in],
            [(m, ir.l) for m, ir in lin.irreps_out],
            lin.weight.detach(),
        )
        assert torch.equal(got, want), (ir_in, ir_out)
    # lmax 2 and parities, as the base preset's e3nn Linears (entries with parity: 1e and 1o do not mix)
    for ir_in, ir_out in [
        ("128x0e + 32x1o + 32x2e", "128x0e + 32x1o + 32x2e"),
        ("3x0e + 2x1o + 2x1e", "4x1e + 1x0e"),
    ]:
        lin = o3.Linear(o3.Irreps(ir_in), o3.Irreps(ir_out))
        with torch.no_grad():
            lin.weight.normal_()
        got = o3_linear_matrix(
            [(m, ir.l, ir.p) for m, ir in lin.irreps_in],
            [(m, ir.l, ir.p) for m, ir in lin.irreps_out],
            lin.weight.detach(),
        )
        assert torch.equal(got, lin(torch.eye(lin.irreps_in.dim))), (ir_in, ir_out)
    with pytest.raises(ValueError, match="weight has"):
        o3_linear_matrix([(2, 0)], [(3, 0)], torch.zeros(5))


# --- the blocked inference path: same bits as the plain one -------------------------------------------------

V1_LIKE = EncoderConfig(
    scalar_channels=32, vector_channels=8, num_layers=3, radial_hidden=32, k=16, out_dim=64
)
V2_LIKE = replace(V1_LIKE, num_layers=5, k=32)
# An odd hidden width and neighbour count: block starts must be aligned for the SiLU's vector loop.
ODD = replace(V1_LIKE, scalar_channels=12, vector_channels=5, radial_hidden=20, k=5, num_layers=2)


def _random_plain(cfg: EncoderConfig, seed: int) -> PlainTorchEncoder:
    torch.manual_seed(seed)
    enc = PlainTorchEncoder(cfg).eval()
    with torch.no_grad():  # random weights everywhere (biases too)
        for p in enc.parameters():
            p.normal_(0.0, 0.5)
    return enc


@pytest.fixture(scope="module")
def chains(structures_dir: Path) -> list:
    """Real chains with every backbone frame (so each residue has k in-edges: the blocked path runs):
    ubiquitin and lysozyme."""
    return [read_structure(structures_dir / n).chains[0] for n in ("1ubi.pdb", "3mht.pdb")]


@pytest.fixture(scope="module")
def chains_with_gaps(structures_dir: Path) -> list:
    """Two chains of 2xhe (breaks, an incomplete residue without edges: the plain path runs)."""
    return list(read_structure(structures_dir / "2xhe.pdb.gz").chains[:2])


@pytest.mark.parametrize("cfg", [V1_LIKE, V2_LIKE, ODD], ids=["v1-like", "v2-like", "odd"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("block", [300, 4096])
def test_blocked_encoder_equals_unblocked_bits(
    chains: list, cfg: EncoderConfig, dtype: torch.dtype, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blocked edge embedding and message sums give the encoder's output bit for bit, whatever the
    block size (300 edges: many blocks per graph, a short last block)."""
    enc = _random_plain(cfg, seed=2).to(dtype)
    batch = GraphBatch.from_graphs([graph_fields(c, k=cfg.k) for c in chains])
    assert NeighbourTable(batch.edge_index[1], batch.num_nodes).regular
    with torch.inference_mode():
        monkeypatch.setattr(encoder_ops, "EDGE_BLOCK", block)
        got = enc(batch)
        with encoder_ops.unblocked():  # one block: the plain product and the plain sums
            want = enc(batch)
    assert torch.equal(got, want)


def test_aggregate_radial_equals_aggregate_on_every_layer(
    chains: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    enc = _random_plain(V2_LIKE, seed=4)
    batch = GraphBatch.from_graphs([graph_fields(c, k=V2_LIKE.k) for c in chains])
    monkeypatch.setattr(encoder_ops, "EDGE_BLOCK", 1000)
    with torch.inference_mode():
        inp = encoder_inputs(batch, V2_LIKE, enc.edge_embed, torch.float32)
        n = inp.node_s.shape[0]
        table = NeighbourTable(inp.dst, n)
        assert table.regular
        unit = torch.nn.functional.normalize(inp.edge_vec, dim=-1)
        sh = torch.cat([torch.ones_like(unit[:, :1]), 3**0.5 * unit], dim=1)
        gen = torch.Generator().manual_seed(0)
        for layer in enc.layers:
            x = torch.randn(n, 56, generator=gen)
            got = layer.fast_tp.aggregate_radial(x, sh, inp.edge_emb, layer.radial, inp.src, table)
            assert torch.equal(
                got, layer.fast_tp.aggregate(x, sh, layer.radial(inp.edge_emb), inp.src, table)
            )


def test_encoder_with_gaps_equals_unblocked_bits(
    chains_with_gaps: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A residue without a frame loses its edges; the layers then take the plain path, the edge embedding
    is still blocked: the same bits."""
    enc = _random_plain(V2_LIKE, seed=3)
    batch = GraphBatch.from_graphs([graph_fields(c, k=V2_LIKE.k) for c in chains_with_gaps])
    with torch.inference_mode():
        monkeypatch.setattr(encoder_ops, "EDGE_BLOCK", 300)
        got = enc(batch)
        monkeypatch.setattr(encoder_ops, "EDGE_BLOCK", 10**9)
        assert torch.equal(got, enc(batch))


def test_aggregate_radial_falls_back_with_autograd_and_irregular_layouts() -> None:
    """With autograd (training) or an irregular neighbour table the plain path runs: values and gradients."""
    enc = _random_plain(V1_LIKE, seed=6)
    layer = enc.layers[0]
    gen = torch.Generator().manual_seed(1)
    n, k = 40, 16
    emb = torch.randn(n * k, V1_LIKE.radial_hidden, generator=gen)
    sh = torch.cat([torch.ones(n * k, 1), torch.randn(n * k, 3, generator=gen)], dim=1)
    src = torch.randint(0, n, (n * k,), generator=gen)
    x = torch.randn(n, 56, generator=gen, requires_grad=True)
    for dst in (torch.arange(n).repeat_interleave(k), torch.randint(0, n, (n * k,), generator=gen)):
        table = NeighbourTable(dst, n)
        got = layer.fast_tp.aggregate_radial(x, sh, emb, layer.radial, src, table)
        assert got.requires_grad
        assert torch.equal(got, layer.fast_tp.aggregate(x, sh, layer.radial(emb), src, table))
        with torch.inference_mode():
            assert torch.equal(
                layer.fast_tp.aggregate_radial(x, sh, emb, layer.radial, src, table),
                layer.fast_tp.aggregate(x, sh, layer.radial(emb), src, table),
            )


@pytest.mark.parametrize(("n", "width", "block", "align"), [(2039, 32, 4096, 1), (100, 32, 4096, 1),
                                                             (300, 5, 1000, 16), (7, 3, 2, 1), (0, 32, 64, 1)])  # fmt: skip
def test_node_blocks_cover_all_nodes_in_aligned_near_equal_ranges(
    n: int, width: int, block: int, align: int
) -> None:
    blocks = node_blocks(n, width, block, align=align)
    assert [i for a, b in blocks for i in range(a, b)] == list(range(n))
    assert all(a % align == 0 for a, _ in blocks)
    sizes = [b - a for a, b in blocks]
    if n:
        assert max(sizes) * width <= max(block, width) + align * width
        assert max(sizes) - min(sizes) <= align + 1
