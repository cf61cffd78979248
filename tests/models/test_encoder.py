"""Tests of the SE(3)-equivariant encoder on real structures from ``structures/``."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from e3nn import o3
from torch_geometric.data import Batch, Data

from protok.errors import ConfigError
from protok.graph import EDGE_FIELDS, EDGE_S_DIM, NODE_S_DIM, build_graph, expand_edge_scalars
from protok.models.encoder import ENCODER_PRESETS, Encoder, EncoderConfig
from protok.structures import ProteinChain, read_chain, read_structure
from protok.testing import assert_invariant, mirror, random_rigid_motion

# Small but complete: 2 layers keep the suite fast; lmax=2 is covered separately.
TINY = EncoderConfig(scalar_channels=16, vector_channels=4, num_layers=2, radial_hidden=16, out_dim=32)


@functools.cache
def _encoder(cfg: EncoderConfig, dtype: torch.dtype = torch.float32, seed: int = 0) -> Encoder:
    """A seeded encoder in eval mode, built once per (config, dtype, seed): e3nn compiles each module."""
    torch.manual_seed(seed)
    return Encoder(cfg).to(dtype).eval()


@pytest.fixture(scope="module")
def ubiquitin(structures_dir: Path) -> ProteinChain:
    return read_chain(structures_dir / "1ubi.pdb")


@pytest.fixture(scope="module")
def small_encoder() -> Encoder:
    return _encoder(ENCODER_PRESETS["small"])


def _rotate_graph(g: Data, rot: torch.Tensor, t: torch.Tensor) -> Data:
    """The graph of the moved structure: vectors rotate, positions move, invariants stay."""
    h = g.clone()
    rot, t = rot.to(g.pos.dtype), t.to(g.pos.dtype)
    h.pos = g.pos @ rot.T + t
    h.cb = g.cb @ rot.T + t
    h.coords = g.coords @ rot.T + t
    h.edge_vec = g.edge_vec @ rot.T
    h.node_v = g.node_v @ rot.T
    h.frame_rot = rot @ g.frame_rot
    return h


def test_presets_are_configs_and_json_round_trip() -> None:
    assert {"small", "base"} <= set(ENCODER_PRESETS)
    for cfg in ENCODER_PRESETS.values():
        assert isinstance(cfg, EncoderConfig)
        assert (cfg.node_s_dim, cfg.edge_s_dim) == (NODE_S_DIM, EDGE_S_DIM)
        back = EncoderConfig.from_dict(json.loads(json.dumps(asdict(cfg))))
        assert back == cfg


@pytest.mark.parametrize("bad", [{"lmax": 3}, {"num_layers": 0}, {"dropout": 1.0}, {"scalar_channels": -1}])
def test_invalid_config_raises(bad: dict) -> None:
    with pytest.raises(ConfigError):
        replace(TINY, **bad)


def test_unknown_config_key_raises() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) hidden for EncoderConfig"):
        EncoderConfig.from_dict({**asdict(TINY), "hidden": 3})


def test_feature_size_mismatch_raises(ubiquitin: ProteinChain) -> None:
    enc = _encoder(replace(TINY, edge_s_dim=EDGE_S_DIM + 1))
    with pytest.raises(ConfigError, match="edge_s"):
        enc(build_graph(ubiquitin))


def test_tensor_products_are_uvu(small_encoder: Encoder) -> None:
    for layer in small_encoder.layers:
        assert layer.tp.instructions, "no tensor-product paths"
        assert all(ins.connection_mode == "uvu" for ins in layer.tp.instructions)
        # every l of the hidden irreps is reached by some path (scalars <-> vectors mix)
        outs = {layer.tp.irreps_out[ins.i_out].ir for ins in layer.tp.instructions}
        assert outs == {ir for _, ir in small_encoder.irreps_hidden}


def test_output_shape_finite(small_encoder: Encoder, ubiquitin: ProteinChain) -> None:
    with torch.no_grad():
        z = small_encoder(build_graph(ubiquitin))
    assert z.shape == (len(ubiquitin), ENCODER_PRESETS["small"].out_dim)
    assert z.dtype == torch.float32
    assert torch.isfinite(z).all()
    assert z.std(0).mean() > 1e-3  # not a constant map


@pytest.mark.parametrize(
    ("dtype", "atol"), [(torch.float32, 1e-5), (torch.float64, 1e-10)], ids=["float32", "float64"]
)
@pytest.mark.parametrize("lmax", [1, 2])
def test_encoder_invariant_to_rigid_motions(
    ubiquitin: ProteinChain, dtype: torch.dtype, atol: float, lmax: int
) -> None:
    """Rotating the graph's vectors and positions (invariants fixed) leaves the output unchanged."""
    enc = _encoder(replace(TINY, lmax=lmax), dtype)
    g = build_graph(ubiquitin, dtype=dtype)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ref = enc(g)
        scale = ref.abs().max()
        for _ in range(20 if lmax == 1 else 5):
            rot, t = random_rigid_motion(gen, dtype=dtype)
            err = (enc(_rotate_graph(g, rot, t)) - ref).abs().max()
            assert err <= atol * max(1.0, float(scale)), f"max error {float(err):.3g}"


def test_embeddings_invariant_end_to_end(small_encoder: Encoder, ubiquitin: ProteinChain) -> None:
    """Structure -> graph -> encoder under 20 rigid motions (coordinates re-stored as float32)."""

    def embed(c: ProteinChain) -> torch.Tensor:
        with torch.no_grad():
            return small_encoder(build_graph(c))

    assert_invariant(embed, ubiquitin, n=20, atol=1e-4, rtol=1e-4)


def test_mirror_image_changes_embeddings(small_encoder: Encoder, ubiquitin: ProteinChain) -> None:
    """A mirror image is a different structure: embeddings move far and nearest-code tokens change."""
    with torch.no_grad():
        z = small_encoder(build_graph(ubiquitin))
        zm = small_encoder(build_graph(mirror(ubiquitin)))
    rel = float((zm - z).abs().mean() / z.std())
    assert rel > 0.3, f"mirror moved embeddings by only {rel:.3f} std"
    # tokens from a random codebook drawn around the data (64 codes)
    gen = torch.Generator().manual_seed(0)
    codes = z.mean(0) + z.std(0) * torch.randn(64, z.shape[1], generator=gen)
    tok, tok_m = torch.cdist(z, codes).argmin(1), torch.cdist(zm, codes).argmin(1)
    changed = float((tok != tok_m).float().mean())
    assert changed > 0.5, f"only {changed:.1%} of tokens changed under mirroring"


def test_batch_composition_does_not_change_output(small_encoder: Encoder, structures_dir: Path) -> None:
    chains = [
        read_chain(structures_dir / "1ubi.pdb"),
        read_chain(structures_dir / "1a8o.pdb"),
        read_chain(structures_dir / "1ejg.pdb"),
    ]
    graphs = [build_graph(c) for c in chains]
    with torch.no_grad():
        alone = [small_encoder(g) for g in graphs]
        for order in ([0, 1, 2], [2, 0, 1]):
            out = small_encoder(Batch.from_data_list([graphs[i] for i in order]))
            start = 0
            for i in order:
                n = graphs[i].num_nodes
                torch.testing.assert_close(out[start : start + n], alone[i], atol=1e-6, rtol=1e-6)
                start += n


def test_masked_residues_are_isolated(structures_dir: Path) -> None:
    """2xhe has a residue with only N (no frame): its output is finite and its inputs affect nothing."""
    cx = read_structure(structures_dir / "2xhe.pdb.gz")
    g = build_graph(cx)
    masked = (~g.node_mask).nonzero().flatten()
    assert masked.numel() >= 1
    enc = _encoder(TINY)
    with torch.no_grad():
        z = enc(g)
        h = g.clone()
        h.node_s[masked] = float("nan")
        h.node_v[masked] = 1e6
        z2 = enc(h)
    assert torch.isfinite(z).all() and torch.isfinite(z2).all()
    keep = g.node_mask
    torch.testing.assert_close(z2[keep], z[keep], atol=0, rtol=0)


def test_edges_touching_masked_nodes_are_ignored(ubiquitin: ProteinChain) -> None:
    g = build_graph(ubiquitin)
    h = g.clone()
    h.node_mask = g.node_mask.clone()
    h.node_mask[10] = False  # pretend residue 10 lost its frame but kept its edges
    enc = _encoder(TINY)
    with torch.no_grad():
        z = enc(h)
        h.node_s[10] += 5.0
        h.node_v[10] *= -1
        z2 = enc(h)
    others = torch.arange(g.num_nodes) != 10
    torch.testing.assert_close(z2[others], z[others], atol=0, rtol=0)


def test_graph_storing_only_edge_s_is_refused(ubiquitin: ProteinChain) -> None:
    """Graphs carry the compact edge geometry; an expanded ``edge_s`` alone is not a graph format."""
    g = build_graph(ubiquitin)
    old = g.clone()
    old.edge_s = expand_edge_scalars(g)
    for name in EDGE_FIELDS:
        del old[name]
    enc = _encoder(TINY)
    with torch.no_grad(), pytest.raises(ConfigError, match="edge geometry fields"):
        enc(old)


def _tp_inputs(layer, n: int, k: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    x = torch.randn(n, layer.tp.irreps_in1.dim, generator=gen)
    sh = o3.spherical_harmonics(
        "0e + 1o", torch.randn(n * k, 3, generator=gen), True, normalization="component"
    )
    w = torch.randn(n * k, layer.tp.weight_numel, generator=gen)
    src = torch.randint(0, n, (n * k,), generator=gen)
    return x, sh, w, src


@pytest.mark.parametrize("cfg", [TINY, ENCODER_PRESETS["small"]], ids=["tiny", "small"])
def test_fast_uvu_equals_e3nn_tensor_product(cfg: EncoderConfig) -> None:
    """The hand-written lmax=1 path computes e3nn's TensorProduct + neighbour sum, values and gradients,
    for the regular (k in-edges per node, grouped) and the general (shuffled, uneven) edge layouts."""
    from protok.models.encoder_ops import NeighbourTable

    layer = _encoder(cfg).layers[0]
    assert layer.fast_tp is not None
    gen = torch.Generator().manual_seed(1)
    n, k = 57, 16
    x, sh, w, src = _tp_inputs(layer, n, k, gen)
    regular = torch.arange(n).repeat_interleave(k)
    uneven = torch.randint(0, n, (n * k,), generator=gen)
    for dst, is_regular in ((regular, True), (uneven, False)):
        table = NeighbourTable(dst, n)
        assert table.regular is is_regular
        xa, wa = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        xb, wb = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        ref = table.sum(layer.tp(xa[src], sh, wa))
        got = layer.fast_tp.aggregate(xb, sh, wb, src, table)
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
        g = torch.randn(ref.shape, generator=gen)
        (ref * g).sum().backward()
        (got * g).sum().backward()
        torch.testing.assert_close(xb.grad, xa.grad, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(wb.grad, wa.grad, atol=1e-4, rtol=1e-5)


def test_lmax2_uses_e3nn_tensor_product() -> None:
    assert all(layer.fast_tp is None for layer in _encoder(replace(TINY, lmax=2)).layers)


def test_graph_without_edges(ubiquitin: ProteinChain) -> None:
    """Residues with no neighbours (a one-residue chain) still get a finite vector."""
    g = build_graph(ubiquitin)
    g.edge_index = g.edge_index[:, :0]
    for name in (*EDGE_FIELDS, "edge_vec"):
        g[name] = g[name][:0]
    with torch.no_grad():
        z = _encoder(TINY)(g)
    assert z.shape == (g.num_nodes, TINY.out_dim) and torch.isfinite(z).all()


def test_gradients_reach_all_parameters(ubiquitin: ProteinChain) -> None:
    torch.manual_seed(0)
    enc = Encoder(replace(TINY, dropout=0.1)).train()
    z = enc(build_graph(ubiquitin))
    (z**2).mean().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"zero gradient for {name}"


def test_vector_features_are_equivariant(ubiquitin: ProteinChain) -> None:
    """The hidden l=1 features rotate with the input (checked after the first layer's update)."""
    enc = _encoder(TINY, torch.float64)
    g = build_graph(ubiquitin, dtype=torch.float64)
    rot, t = random_rigid_motion(3)
    feats: list[torch.Tensor] = []
    hook = enc.layers[0].register_forward_hook(lambda m, i, o: feats.append(o))
    with torch.no_grad():
        enc(g)
        enc(_rotate_graph(g, rot, t))
    hook.remove()
    n_s = TINY.scalar_channels
    torch.testing.assert_close(feats[1][:, :n_s], feats[0][:, :n_s], atol=1e-10, rtol=1e-10)
    vec, vec_rot = (f[:, n_s:].reshape(-1, TINY.vector_channels, 3) for f in feats)
    torch.testing.assert_close(vec_rot, vec @ rot.T, atol=1e-10, rtol=1e-10)
    # e3nn's 1o basis is x, y, z (so node_v / edge_vec enter without permutation)
    assert o3.Irreps("1x1o").D_from_matrix(rot.float()).allclose(rot.float(), atol=1e-5)


def test_dense_linear_matches_e3nn_and_follows_weight_updates(ubiquitin: ProteinChain) -> None:
    """Without autograd the e3nn Linears run as cached dense matrices: same output as e3nn's own code
    (run with autograd on), and the cache follows in-place weight updates and dtype changes."""
    from protok.models.encoder import _linear

    torch.manual_seed(3)
    enc = Encoder(TINY).eval()
    g = build_graph(ubiquitin)
    with torch.no_grad():
        fast = enc(g)
    ref = enc(g).detach()  # autograd on: e3nn's code path
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)

    lin = enc.layers[0].lin_in
    x = torch.randn(70, lin.irreps_in.dim)
    with torch.no_grad():
        before = _linear(lin, x)
        lin.weight.mul_(2.0)  # in place: bumps the version, so the cached matrix is rebuilt
        after = _linear(lin, x)
    torch.testing.assert_close(after, 2.0 * before, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(after, lin(x).detach(), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        lin64 = lin.double()
        torch.testing.assert_close(_linear(lin64, x.double()), lin64(x.double()), atol=1e-10, rtol=1e-10)
