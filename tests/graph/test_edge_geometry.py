"""Compact edge geometry: ``expand_edge_scalars`` rebuilds exactly the wide ``edge_s`` the shipped models read.

The reference below is a frozen copy of feature code that computes the (E, 223) ``edge_s`` matrix directly;
the shipped models were trained on its output, so the encoder's input must not change: every encoder input
(``node_s``, ``node_v``, ``edge_index``, ``edge_vec`` and the expanded ``edge_s``) must match it to 1e-6 on
real chains.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from protok.errors import ConfigError
from protok.graph import (
    EDGE_FIELDS,
    EDGE_S_DIM,
    OTHER_CHAIN_BUCKET,
    RBF_ATOM_PAIRS,
    build_graph,
    expand_edge_geometry,
    expand_edge_scalars,
    linear_edge_scalars,
)
from protok.structures import ProteinChain, read_structure

# ----------------------------------------------------------------------------------------------------------
# Frozen reference: protok/graph/{frames,knn,features,build}.py at 2cb81ec, reduced to what feeds the encoder.
_ATOMS = ("N", "CA", "C", "O", "CB")
_PI = torch.tensor([_ATOMS.index(a) for a, _ in RBF_ATOM_PAIRS])
_PJ = torch.tensor([_ATOMS.index(b) for _, b in RBF_ATOM_PAIRS])
_CB = (-0.58273431, 0.56802827, -0.54067466)


def _ref_normalize(v):
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True).clamp_min(1e-8)


def _ref_frames(x):
    n, ca, c = x[:, 0], x[:, 1], x[:, 2]
    e1 = _ref_normalize(c - ca)
    u = n - ca
    e2 = _ref_normalize(u - (u * e1).sum(-1, keepdim=True) * e1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2, dim=-1)], dim=-1)


def _ref_cb(x):
    n, ca, c = x[:, 0], x[:, 1], x[:, 2]
    b, cc = ca - n, c - ca
    return _CB[0] * torch.linalg.cross(b, cc, dim=-1) + _CB[1] * b + _CB[2] * cc + ca


def _ref_rbf(d):
    mu = torch.linspace(0.0, 20.0, 16, dtype=d.dtype)
    return ((d / 1.25).unsqueeze(-1) - mu / 1.25).square().clamp(max=80.0).neg().exp()


def _ref_dihedral(p0, p1, p2, p3):
    b0, b1, b2 = p0 - p1, _ref_normalize(p2 - p1), p3 - p2
    v = b0 - (b0 * b1).sum(-1, keepdim=True) * b1
    w = b2 - (b2 * b1).sum(-1, keepdim=True) * b1
    return torch.atan2((torch.linalg.cross(b1, v, dim=-1) * w).sum(-1), (v * w).sum(-1))


def _ref_node_s(x, am, brk):
    n = x.shape[0]
    out = x.new_zeros(n, 9)
    if n < 2:
        return out
    bonded = ~brk[1:] & am[:-1, 2] & am[1:, 0]
    N, CA, C = x[:, 0], x[:, 1], x[:, 2]
    phi = _ref_dihedral(C[:-1], N[1:], CA[1:], C[1:])
    psi = _ref_dihedral(N[:-1], CA[:-1], C[:-1], N[1:])
    omega = _ref_dihedral(CA[:-1], C[:-1], N[1:], CA[1:])
    f_phi = (bonded & am[1:, 1] & am[1:, 2]).to(x.dtype)
    f_psi = (bonded & am[:-1, 1] & am[:-1, 0]).to(x.dtype)
    f_om = (bonded & am[:-1, 1] & am[1:, 1]).to(x.dtype)
    out[1:, 0], out[1:, 1], out[1:, 6] = torch.sin(phi) * f_phi, torch.cos(phi) * f_phi, f_phi
    out[:-1, 2], out[:-1, 3], out[:-1, 7] = torch.sin(psi) * f_psi, torch.cos(psi) * f_psi, f_psi
    out[:-1, 4], out[:-1, 5], out[:-1, 8] = torch.sin(omega) * f_om, torch.cos(omega) * f_om, f_om
    return out


def _ref_knn(pos, k, valid):
    idx = valid.nonzero().flatten()
    p = pos[idx]
    kk = min(k, len(idx) - 1)
    if kk <= 0:
        return torch.empty(2, 0, dtype=torch.long)
    p = p - p.mean(0, keepdim=True)
    d = torch.cdist(p, p, compute_mode="donot_use_mm_for_euclid_dist")
    d.fill_diagonal_(float("inf"))
    nbr = d.topk(kk, dim=1, largest=False, sorted=True).indices
    return torch.stack([idx[nbr.reshape(-1)], idx[torch.arange(len(idx)).repeat_interleave(kk)]])


def reference_graph(chains: list[ProteinChain], k: int = 16) -> dict[str, torch.Tensor]:
    """Encoder inputs as the 2cb81ec code computed them (float32), ``edge_s`` included."""
    lengths = [len(c) for c in chains]
    raw = torch.from_numpy(np.concatenate([c.coords for c in chains]).astype(np.float32))
    am = torch.from_numpy(np.concatenate([c.atom_mask for c in chains])) & torch.isfinite(raw).all(-1)
    x = torch.where(am.unsqueeze(-1), raw, torch.zeros(()))
    brk = torch.from_numpy(np.concatenate([c.chain_breaks for c in chains]))
    brk[np.cumsum(lengths)[:-1]] = True
    chain_idx = torch.repeat_interleave(torch.arange(len(chains)), torch.tensor(lengths))
    res_idx = torch.cat([torch.arange(n) for n in lengths])
    nm = am[:, :3].all(-1)
    pos = x[:, 1]
    rot = torch.where(nm[:, None, None], _ref_frames(x), torch.eye(3))
    cb = torch.where(nm[:, None], _ref_cb(x), torch.zeros(()))
    node_v = torch.where(
        nm[:, None, None], _ref_normalize(torch.stack([x[:, 0], x[:, 2], cb], 1) - pos[:, None]), 0.0
    )
    ei = _ref_knn(pos, k, nm)
    j, i = ei
    atoms = torch.cat([x, cb[:, None]], 1)
    ok = torch.cat([am, nm[:, None]], 1)
    dist = torch.linalg.vector_norm(atoms[j][:, _PJ] - atoms[i][:, _PI], dim=-1)
    feat_rbf = _ref_rbf(dist) * (ok[i][:, _PI] & ok[j][:, _PJ]).unsqueeze(-1)
    rot_i_t = rot[i].transpose(1, 2)
    orient = torch.bmm(rot_i_t, rot[j]).reshape(-1, 9)
    direction = torch.bmm(rot_i_t, _ref_normalize(atoms[j, 1] - atoms[i, 1]).unsqueeze(-1)).reshape(-1, 3)
    same = chain_idx[j] == chain_idx[i]
    sep = torch.where(same, (res_idx[j] - res_idx[i]).clamp(-32, 32) + 32, 65)
    edge_s = torch.cat(
        [
            feat_rbf.reshape(-1, 144),
            orient,
            direction,
            torch.nn.functional.one_hot(sep, 66).float(),
            same.float().unsqueeze(-1),
        ],
        dim=1,
    )
    return {
        "node_s": _ref_node_s(x, am, brk),
        "node_v": node_v,
        "node_mask": nm,
        "edge_index": ei,
        "edge_vec": pos[j] - pos[i],
        "edge_s": edge_s,
    }


# ----------------------------------------------------------------------------------------------------------


def _with_missing(chain: ProteinChain, missing: dict[int, list[int]]) -> ProteinChain:
    mask = chain.atom_mask.copy()
    for res, atoms in missing.items():
        mask[res, atoms] = False
    return ProteinChain(coords=chain.coords, atom_mask=mask, sequence=chain.sequence, source=chain.source)


def _assert_same_encoder_inputs(chains: list[ProteinChain], k: int = 16) -> Data:
    g = build_graph(chains, k=k)
    ref = reference_graph(chains, k=k)
    assert "edge_s" not in g  # not stored any more
    assert torch.equal(g.edge_index, ref["edge_index"])
    assert torch.equal(g.node_mask, ref["node_mask"])
    edge_s = expand_edge_scalars(g)
    assert edge_s.shape == ref["edge_s"].shape == (g.num_edges, EDGE_S_DIM)
    assert edge_s.dtype == torch.float32
    for name, got in (
        ("edge_s", edge_s),
        ("node_s", g.node_s),
        ("node_v", g.node_v),
        ("edge_vec", g.edge_vec),
    ):
        diff = (got - ref[name]).abs().max().item() if got.numel() else 0.0
        assert diff <= 1e-6, f"{name}: max abs diff {diff:.3g}"
    return g


def test_expanded_edge_s_equals_reference_on_real_chains(promod3):
    lengths = promod3.lengths
    picks = [int(np.argmin(np.abs(lengths - n))) for n in (35, 120, 300, 600)]
    for i in picks:
        _assert_same_encoder_inputs([promod3.chain(i)])


def test_expanded_edge_s_equals_reference_with_missing_atoms(chain300):
    # N missing (no frame), O missing (O RBF blocks zero), everything missing, CA missing
    c = _with_missing(chain300, {5: [0], 9: [3], 10: [3], 20: [0, 1, 2, 3], 33: [1]})
    g = _assert_same_encoder_inputs([c], k=12)
    o_pairs = [p for p, (a, b) in enumerate(RBF_ATOM_PAIRS) if "O" in (a, b)]
    assert torch.isnan(g.edge_dist[:, o_pairs]).any()
    assert not torch.isnan(g.edge_dist[:, [p for p in range(9) if p not in o_pairs]]).any()


def test_expanded_edge_s_equals_reference_multichain(promod3):
    a = promod3.chain(promod3.find(40, 60))
    b = promod3.chain(promod3.find(40, 60, skip=1))
    b = b.with_coords(b.coords - b.ca.mean(0) + a.ca.mean(0) + 6.0)
    g = _assert_same_encoder_inputs([a, b])
    inter = g.chain_idx[g.edge_index[0]] != g.chain_idx[g.edge_index[1]]
    assert inter.any() and (g.edge_sep[inter] == OTHER_CHAIN_BUCKET).all()


def test_expanded_edge_s_equals_reference_real_file(structures_dir: Path):
    path = structures_dir / "2xhe.pdb.gz"  # two chains with breaks and incomplete residues
    cx = read_structure(path)
    _assert_same_encoder_inputs(list(cx.chains))


def test_expand_on_batch_matches_per_graph(promod3, chain300):
    g1, g2 = build_graph(chain300), build_graph(promod3.chain(promod3.find(40, 60)))
    batch = Batch.from_data_list([g1, g2])
    for name in EDGE_FIELDS:  # edge fields are concatenated, never shifted like *index* fields
        assert torch.equal(getattr(batch, name), torch.cat([getattr(g1, name), getattr(g2, name)]))
    assert torch.equal(
        expand_edge_scalars(batch), torch.cat([expand_edge_scalars(g1), expand_edge_scalars(g2)])
    )


def test_graph_without_edge_geometry_is_refused(chain300):
    g = build_graph(chain300.slice(0, 40))
    with pytest.raises(ConfigError, match="edge_dist"):
        expand_edge_scalars(Data(edge_index=g.edge_index))
    stored = Data(edge_index=g.edge_index, edge_s=torch.full((g.num_edges, EDGE_S_DIM), 0.5))
    with pytest.raises(ConfigError, match="edge_dist"):  # a stored edge_s matrix is not a format
        expand_edge_scalars(stored)


def test_expand_float64_and_empty():
    d = torch.tensor([[3.8] * 9, [float("nan")] + [5.0] * 8], dtype=torch.float64)
    rot = torch.eye(3, dtype=torch.float64).reshape(1, 9).repeat(2, 1)
    dirs = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
    out = expand_edge_geometry(d, rot, dirs, torch.tensor([33, OTHER_CHAIN_BUCKET]))
    assert out.dtype == torch.float64 and out.shape == (2, EDGE_S_DIM)
    assert (out[1, :16] == 0).all() and (out[1, 16:32] > 0).any()  # NaN distance -> zero RBFs
    assert out[0, -1] == 1 and out[1, -1] == 0
    assert out[0, 144 + 12 + 33] == 1 and out[1, 144 + 12 + 65] == 1
    empty = expand_edge_geometry(d[:0], rot[:0], dirs[:0], torch.zeros(0, dtype=torch.long))
    assert empty.shape == (0, EDGE_S_DIM)


@pytest.mark.parametrize(
    "n_res, missing", [(1, {}), (2, {1: [0]}), (3, {0: [1], 1: [1], 2: [1]}), (1, {0: [3]})]
)
def test_graph_without_edges(chain300, n_res, missing):
    """Chains too small (or too incomplete) for any edge give an empty, well-formed graph."""
    c = _with_missing(chain300.slice(0, n_res), missing)
    for dtype in (torch.float32, torch.float64):
        g = build_graph(c, dtype=dtype)
        assert g.num_nodes == n_res and g.num_edges == 0
        assert g.edge_dist.shape == (0, 9) and g.edge_rot.shape == (0, 9) and g.edge_dir.shape == (0, 3)
        assert g.edge_sep.shape == (0,) and g.edge_sep.dtype == torch.int64
        assert expand_edge_scalars(g).shape == (0, EDGE_S_DIM)


def test_linear_edge_scalars_equals_expanded_product(promod3, chain300):
    """The split product equals ``expand_edge_scalars(g) @ W.T + b`` on real graphs, multi-chain included."""
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(24, EDGE_S_DIM, generator=gen)
    bias = torch.randn(24, generator=gen)
    a = promod3.chain(promod3.find(40, 60))
    b = promod3.chain(promod3.find(40, 60, skip=1))
    graphs = [build_graph(a), build_graph(chain300), build_graph([a, b])]
    for g in [*graphs, Batch.from_data_list(graphs)]:
        ref = expand_edge_scalars(g) @ weight.T + bias
        torch.testing.assert_close(linear_edge_scalars(g, weight, bias), ref, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(linear_edge_scalars(g, weight), ref - bias, atol=1e-4, rtol=1e-5)


def test_linear_edge_scalars_gradients_match(chain300):
    g = build_graph(chain300)
    w1 = torch.randn(8, EDGE_S_DIM, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_(True)
    linear_edge_scalars(g, w1).square().sum().backward()
    (expand_edge_scalars(g) @ w2.T).square().sum().backward()
    torch.testing.assert_close(w1.grad, w2.grad, atol=1e-2, rtol=1e-4)


def test_linear_edge_scalars_bad_weight_and_missing_fields(chain300):
    g = build_graph(chain300)
    w = torch.randn(4, EDGE_S_DIM)
    with pytest.raises(ConfigError, match="edge_s"):
        linear_edge_scalars(g, torch.randn(4, EDGE_S_DIM + 1))
    with pytest.raises(ConfigError, match="edge geometry fields"):
        linear_edge_scalars(Data(edge_index=g.edge_index), w)


@pytest.mark.parametrize("width", [20, 32])
def test_linear_edge_scalars_in_blocks_same_bits(chain300, width):
    """Blocked (no autograd) gives the unblocked result bit for bit, with an in-place activation too."""
    g = build_graph(chain300, k=7)
    gen = torch.Generator().manual_seed(3)
    weight, bias = torch.randn(width, EDGE_S_DIM, generator=gen), torch.randn(width, generator=gen)
    silu_ = functools.partial(torch.nn.functional.silu, inplace=True)
    with torch.inference_mode():
        want = linear_edge_scalars(g, weight, bias)
        act = torch.nn.functional.silu(want)
        for block in (1, 100, 300, 4096):
            assert torch.equal(linear_edge_scalars(g, weight, bias, block=block), want)
            assert torch.equal(linear_edge_scalars(g, weight, bias, block=block, activation=silu_), act)
