"""build_graph: the Data contract, masking, multi-chain, batching, invariance and chirality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from protok.graph import (
    EDGE_S_DIM,
    ENCODER_FIELDS,
    MAX_SEPARATION,
    NODE_S_DIM,
    NODE_V_DIM,
    RBF_ATOM_PAIRS,
    RBF_COUNT,
    build_graph,
    regraph,
)
from protok.graph import expand_edge_scalars as edge_s
from protok.structures import ProteinChain, ProteinComplex, read_structure
from protok.testing import (
    apply_rigid,
    assert_equivariant_vectors,
    assert_invariant,
    mirror,
    random_rigid_motion,
)

N_RBF = len(RBF_ATOM_PAIRS) * RBF_COUNT
ORIENT = slice(N_RBF, N_RBF + 9)
DIRECTION = slice(N_RBF + 9, N_RBF + 12)
SEP = slice(N_RBF + 12, N_RBF + 12 + 2 * MAX_SEPARATION + 2)
SAME = N_RBF + 12 + 2 * MAX_SEPARATION + 2

CONTRACT = {
    "pos": ((3,), torch.float32),
    "frame_rot": ((3, 3), torch.float32),
    "cb": ((3,), torch.float32),
    "node_mask": ((), torch.bool),
    "node_s": ((NODE_S_DIM,), torch.float32),
    "node_v": ((NODE_V_DIM, 3), torch.float32),
    "residue_idx": ((), torch.int64),
    "chain_idx": ((), torch.int64),
    "chain_break": ((), torch.bool),
    "seq": ((), torch.int64),
    "coords": ((4, 3), torch.float32),
    "atom_mask": ((4,), torch.bool),
    "b_factor": ((), torch.float32),
}


def with_missing(chain: ProteinChain, missing: dict[int, list[int]]) -> ProteinChain:
    mask = chain.atom_mask.copy()
    for res, atoms in missing.items():
        mask[res, atoms] = False
    return ProteinChain(coords=chain.coords, atom_mask=mask, sequence=chain.sequence, source=chain.source)


def test_contract_fields_shapes_dtypes(chain300):
    g = build_graph(chain300, k=16)
    n = len(chain300)
    assert g.num_nodes == n
    for name, (shape, dtype) in CONTRACT.items():
        t = getattr(g, name)
        assert t.shape == (n, *shape), name
        assert t.dtype == dtype, name
    assert g.edge_index.shape == (2, n * 16) and g.edge_index.dtype == torch.int64
    assert edge_s(g).shape == (n * 16, EDGE_S_DIM) and g.edge_vec.shape == (n * 16, 3)
    assert torch.isfinite(edge_s(g)).all() and torch.isfinite(g.node_s).all()
    assert torch.equal(g.residue_idx, torch.arange(n)) and (g.chain_idx == 0).all()
    assert torch.allclose(g.pos, torch.from_numpy(chain300.ca.copy()))
    assert "".join("ACDEFGHIKLMNPQRSTVWYX"[i] for i in g.seq) == chain300.sequence
    # in-edges per centre = k, no self loops, edge_vec = pos[j] - pos[i]
    assert torch.equal(torch.bincount(g.edge_index[1], minlength=n), torch.full((n,), 16))
    assert (g.edge_index[0] != g.edge_index[1]).all()
    j, i = g.edge_index
    assert torch.allclose(g.edge_vec, g.pos[j] - g.pos[i])
    # RBF of CA-CA matches the true distance; sequence-separation one-hot is consistent
    d = (g.pos[j] - g.pos[i]).norm(dim=-1)
    peak = edge_s(g)[:, :RBF_COUNT].argmax(1).float() * (20.0 / (RBF_COUNT - 1))
    assert ((peak - d.clamp(max=20)).abs() <= 20.0 / (RBF_COUNT - 1) / 2 + 1e-4).all()
    sep = edge_s(g)[:, SEP].argmax(1) - MAX_SEPARATION
    assert torch.equal(sep, (j - i).clamp(-MAX_SEPARATION, MAX_SEPARATION))
    assert (edge_s(g)[:, SAME] == 1).all()


def test_missing_atoms_keep_residue_without_edges(chain300):
    c = with_missing(chain300, {5: [0], 9: [3], 20: [0, 1, 2, 3]})  # N missing, O missing, all missing
    g = build_graph(c, k=8)
    n = len(c)
    assert g.num_nodes == n  # nothing dropped
    assert g.node_mask.tolist() == [i not in (5, 20) for i in range(n)]
    used = set(g.edge_index.flatten().tolist())
    assert 5 not in used and 20 not in used and 9 in used
    assert torch.equal(torch.bincount(g.edge_index[1], minlength=n)[g.node_mask], torch.full((n - 2,), 8))
    assert (g.node_v[5] == 0).all() and (g.cb[20] == 0).all() and (g.coords[20] == 0).all()
    assert torch.equal(g.frame_rot[5], torch.eye(3))
    assert g.atom_mask[9].tolist() == [True, True, True, False]
    # phi(5), psi(4), omega(4) need N(5): invalid; O plays no role in dihedrals
    assert g.node_s[5, 6] == 0 and g.node_s[4, 7] == 0 and g.node_s[4, 8] == 0
    assert g.node_s[9, 6:].tolist() == [1, 1, 1]
    # every RBF block involving O of residue 9 is zero on its edges, the others are not all zero
    o_pairs = [p for p, (a, b) in enumerate(RBF_ATOM_PAIRS) if "O" in (a, b)]
    for p, (a, b) in enumerate(RBF_ATOM_PAIRS):
        block = edge_s(g)[:, p * RBF_COUNT : (p + 1) * RBF_COUNT]
        sel = (g.edge_index[1] == 9) if a == "O" else (g.edge_index[0] == 9) if b == "O" else None
        if sel is not None:
            assert (block[sel] == 0).all()
    assert o_pairs


def test_multichain_complex(promod3):
    a = promod3.chain(promod3.find(40, 60))
    b = promod3.chain(promod3.find(40, 60, skip=1))
    b = b.with_coords(b.coords - b.ca.mean(0) + a.ca.mean(0) + 6.0)  # place B next to A
    cx = ProteinComplex(chains=(a, b))
    g = build_graph(cx, k=16)
    la, lb = len(a), len(b)
    assert g.num_nodes == la + lb
    assert torch.equal(g.chain_idx, torch.tensor([0] * la + [1] * lb))
    assert torch.equal(g.residue_idx, torch.cat([torch.arange(la), torch.arange(lb)]))
    assert g.chain_break[la] and not g.chain_break[0] and g.chain_break.sum() == 1
    assert g.node_s[la, 6] == 0 and g.node_s[la - 1, 7] == 0  # no phi/psi across the chain boundary
    j, i = g.edge_index
    inter = g.chain_idx[j] != g.chain_idx[i]
    assert inter.any()  # the chains touch
    assert (edge_s(g)[inter, SAME] == 0).all() and (edge_s(g)[~inter, SAME] == 1).all()
    assert (edge_s(g)[inter, SEP].argmax(1) == 2 * MAX_SEPARATION + 1).all()
    # a complex and the plain sequence of its chains give the same graph
    g2 = build_graph([a, b], k=16)
    for key in ("edge_index", "edge_dist", "edge_rot", "edge_dir", "edge_sep", "node_s", "chain_break"):
        assert torch.equal(g[key], g2[key])


def test_batching(promod3, chain300):
    small = promod3.chain(promod3.find(40, 60))
    g1, g2 = build_graph(chain300), build_graph(small)
    batch = Batch.from_data_list([g1, g2])
    n1 = g1.num_nodes
    assert batch.num_graphs == 2 and batch.num_nodes == n1 + g2.num_nodes
    assert torch.equal(batch.edge_index[:, g1.num_edges :], g2.edge_index + n1)  # shifted
    assert torch.equal(batch.residue_idx[n1:], g2.residue_idx)  # not shifted
    assert torch.equal(batch.chain_idx[n1:], g2.chain_idx)
    assert torch.equal(batch.batch, torch.tensor([0] * n1 + [1] * g2.num_nodes))
    back = batch.get_example(1)
    assert torch.equal(back.edge_index, g2.edge_index) and torch.equal(edge_s(back), edge_s(g2))


def test_empty_and_bad_inputs(chain300):
    g = build_graph([])
    assert g.num_nodes == 0 and g.edge_index.shape == (2, 0) and edge_s(g).shape == (0, EDGE_S_DIM)
    with pytest.raises(TypeError):
        build_graph(chain300.coords)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        build_graph([chain300, "A"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        build_graph(chain300, dtype=torch.float16)
    with pytest.raises(ValueError):
        build_graph(chain300, k=0)
    tiny = chain300.slice(0, 1)
    assert build_graph(tiny).edge_index.shape == (2, 0)


INVARIANT = ("node_s", "edge_index", "node_mask", "seq", "chain_break", "residue_idx", "chain_idx")


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 2e-3), (torch.float64, 2e-4)])
def test_invariant_under_rigid_motions(helix_chain, dtype, atol):
    def features(c):
        g = build_graph(c, k=16, dtype=dtype)
        return {"edge_s": edge_s(g), **{key: g[key] for key in INVARIANT}}

    # float64 tolerance is limited only by the float32 storage of ProteinChain coordinates
    assert_invariant(features, helix_chain, n=8, atol=atol, rtol=0)


def test_equivariant_vectors(helix_chain):
    def vectors(c):
        g = build_graph(c, k=16, dtype=torch.float64)
        return {"node_v": g.node_v, "edge_vec": g.edge_vec, "frame_axes": g.frame_rot.transpose(1, 2)}

    def positions(c):
        g = build_graph(c, k=16, dtype=torch.float64)
        return {"pos": g.pos, "cb": g.cb, "coords": g.coords}

    assert_equivariant_vectors(vectors, helix_chain, n=5, atol=1e-4)
    assert_equivariant_vectors(positions, helix_chain, n=5, positions=True, atol=1e-3)


def test_mirror_changes_chiral_features(helix_chain):
    g = build_graph(helix_chain, dtype=torch.float64)
    m = build_graph(mirror(helix_chain), dtype=torch.float64)
    # distances (hence the kNN graph and N/CA/C/O RBFs) are unchanged by a mirror ...
    assert torch.equal(g.edge_index, m.edge_index)
    ca_block = slice(0, RBF_COUNT)
    assert torch.allclose(edge_s(g)[:, ca_block], edge_s(m)[:, ca_block], atol=1e-5)
    # ... but dihedral sines flip sign, cosines stay
    assert torch.allclose(m.node_s[:, [0, 2, 4]], -g.node_s[:, [0, 2, 4]], atol=1e-5)
    assert torch.allclose(m.node_s[:, [1, 3, 5]], g.node_s[:, [1, 3, 5]], atol=1e-5)
    # the relative orientation and direction change where they involve the local z axis
    diff_orient = (edge_s(m)[:, ORIENT] - edge_s(g)[:, ORIENT]).abs().max()
    diff_dir = (edge_s(m)[:, DIRECTION] - edge_s(g)[:, DIRECTION]).abs().max()
    assert diff_orient > 0.5 and diff_dir > 0.5
    assert torch.allclose(edge_s(m)[:, DIRECTION][:, 2], -edge_s(g)[:, DIRECTION][:, 2], atol=1e-5)
    # virtual CB is an L-amino-acid CB: CB-CB distances change under a mirror
    cb_block = slice(RBF_COUNT, 2 * RBF_COUNT)
    assert (edge_s(m)[:, cb_block] - edge_s(g)[:, cb_block]).abs().max() > 0.1
    # the helix is right-handed: mean sin(phi) < 0 in the original, > 0 in the mirror image
    assert g.node_s[:, 0].mean() < -0.3 and m.node_s[:, 0].mean() > 0.3


def test_rigid_motion_keeps_masked_residues_masked(chain300):
    c = with_missing(chain300, {3: [1], 50: [2]})
    rot, t = random_rigid_motion(7)
    g, h = build_graph(c), build_graph(apply_rigid(c, rot, t))
    assert torch.equal(g.node_mask, h.node_mask) and torch.equal(g.edge_index, h.edge_index)
    assert torch.allclose(edge_s(g), edge_s(h), atol=2e-3)


STRUCTURES = Path(__file__).resolve().parents[2] / "structures"
STRUCTURE_FILES = sorted(p for p in STRUCTURES.glob("*") if p.is_file() and p.suffix != ".md")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.stat().st_size > 1_000_000 else [])
        for p in STRUCTURE_FILES
    ],
)
def test_real_files_in_structures(path):
    """Every parsable file in structures/ gives a consistent graph (files made to fail parsing are skipped)."""
    from protok.errors import ProtokError

    try:
        cx = read_structure(path)
    except ProtokError as exc:
        pytest.skip(f"does not parse (tested with the parser): {exc}")
    g = build_graph(cx, k=16)
    assert g.num_nodes == cx.num_residues
    complete = np.concatenate([c.backbone_complete for c in cx.chains])
    assert g.node_mask.numpy().tolist() == complete.tolist()
    n_valid = int(complete.sum())
    assert g.num_edges == n_valid * min(16, n_valid - 1)
    assert torch.isfinite(edge_s(g)).all() and torch.isfinite(g.node_s).all()
    breaks = np.concatenate([c.chain_breaks for c in cx.chains])
    starts = np.cumsum([len(c) for c in cx.chains])[:-1]
    breaks[starts] = True
    assert g.chain_break.numpy().tolist() == breaks.tolist()


@pytest.mark.slow
def test_10k_residue_complex(promod3):
    chains, total, idx = [], 0, 0
    while total < 10_000:
        c = promod3.chain(idx)
        chains.append(c)
        total += len(c)
        idx += 1
    g = build_graph(chains, k=16)
    assert g.num_nodes == total and g.num_edges == total * 16
    assert int(g.chain_idx.max()) == len(chains) - 1


def test_regraph_rebuilds_a_batch_at_new_coordinates(promod3, chain300):
    small = with_missing(promod3.chain(promod3.find(40, 60)), {5: [1]})  # a residue without CA
    batch = Batch.from_data_list([build_graph(chain300, k=12), build_graph(small, k=12)])
    same = regraph(batch, batch.coords)  # k taken from the batch's graphs
    assert set(same.keys()) == set(ENCODER_FIELDS)
    for name in ENCODER_FIELDS:
        assert torch.equal(getattr(same, name), getattr(batch, name)), name
    assert torch.equal(same.batch, batch.batch)

    g = torch.Generator().manual_seed(0)
    moved = regraph(batch, batch.coords + 0.5 * torch.randn(batch.coords.shape, generator=g))
    src, dst = moved.edge_index
    assert torch.equal(batch.batch[src], batch.batch[dst])  # edges stay within a complex
    assert torch.equal(moved.node_mask, batch.node_mask)
    assert not bool(moved.node_mask[chain300.coords.shape[0] + 5])
    assert not torch.equal(moved.edge_dist, batch.edge_dist)
    # a complex's first residue has no phi even though the previous complex ends right before it
    first = chain300.coords.shape[0]
    assert moved.node_s[first, 6] == 0 and batch.node_s[first, 6] == 0
