"""knn_graph against a brute-force reference, masking, batching, and the no-LxL-matrix guarantee."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from protok.graph import knn_graph


def brute_force(pos: torch.Tensor, k: int, mask=None, batch=None) -> dict[int, list[int]]:
    """Per target i: neighbours sorted by distance, from the full distance matrix (float64)."""
    p = pos.double()
    n = p.shape[0]
    d = ((p[:, None] - p[None]) ** 2).sum(-1).sqrt()
    ok = torch.ones(n, dtype=torch.bool) if mask is None else mask.clone()
    b = torch.zeros(n, dtype=torch.long) if batch is None else batch
    allowed = ok[:, None] & ok[None, :] & (b[:, None] == b[None, :]) & ~torch.eye(n, dtype=torch.bool)
    d = d.masked_fill(~allowed, float("inf"))
    order = torch.argsort(d, dim=1, stable=True)
    counts = allowed.sum(1).clamp(max=k)
    return {i: order[i, : int(counts[i])].tolist() for i in range(n) if ok[i]}


def as_dict(edge_index: torch.Tensor) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for j, i in edge_index.t().tolist():
        out.setdefault(i, []).append(j)
    return out


def real_ca(promod3, n_chains: int, skip: int = 0) -> torch.Tensor:
    chains = [promod3.chain(promod3.find(50, 150, skip=skip + s)) for s in range(n_chains)]
    return torch.from_numpy(np.concatenate([c.ca for c in chains])).float()


@pytest.mark.parametrize("k,chunk", [(1, 512), (8, 7), (16, 64), (30, 1000)])
def test_matches_brute_force_on_real_ca(promod3, k, chunk):
    pos = real_ca(promod3, 2)
    ei = knn_graph(pos, k, chunk_size=chunk)
    assert ei.dtype == torch.int64 and ei.shape == (2, pos.shape[0] * k)
    got, ref = as_dict(ei), brute_force(pos, k)
    assert got.keys() == ref.keys()
    for i in ref:  # same neighbours in the same (distance) order
        assert got[i] == ref[i], i


def test_mask_and_nonfinite_points_get_no_edges(promod3):
    pos = real_ca(promod3, 1)
    n = pos.shape[0]
    mask = torch.ones(n, dtype=torch.bool)
    mask[[0, 5, 17]] = False
    pos[30] = float("nan")  # a non-finite point is excluded like a masked one
    ei = knn_graph(pos, 10, mask=mask, chunk_size=16)
    excluded = {0, 5, 17, 30}
    assert not excluded & set(ei.flatten().tolist())
    ref_mask = mask.clone()
    ref_mask[30] = False
    assert as_dict(ei) == brute_force(torch.nan_to_num(pos), 10, mask=ref_mask)


def test_batch_never_crosses_graphs(promod3):
    pos = real_ca(promod3, 3)
    sizes = [60, 5, pos.shape[0] - 65]
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    # graph 0 and 2 share coordinates space; interleave ids to check unsorted batches too
    perm = torch.randperm(pos.shape[0], generator=torch.Generator().manual_seed(0))
    pos, batch = pos[perm], batch[perm]
    ei = knn_graph(pos, 8, batch=batch, chunk_size=32)
    assert (batch[ei[0]] == batch[ei[1]]).all()
    assert as_dict(ei) == brute_force(pos, 8, batch=batch)
    # the 5-point graph gives each point min(k, n - 1) = 4 in-edges
    small = (batch[ei[1]] == 1).sum().item()
    assert small == 5 * 4


def test_small_and_degenerate_inputs():
    assert knn_graph(torch.zeros(0, 3), 4).shape == (2, 0)
    assert knn_graph(torch.zeros(1, 3), 4).shape == (2, 0)
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [3.0, 0, 0]])
    assert knn_graph(pos, 1).tolist() == [[1, 0, 1], [0, 1, 2]]
    assert knn_graph(pos, 5).shape == (2, 6)  # min(k, n - 1) = 2 per node
    mask = torch.tensor([True, False, True])
    assert knn_graph(pos, 5, mask=mask).tolist() == [[2, 0], [0, 2]]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 0},
        {"k": 4, "chunk_size": 0},
        {"k": 4, "mask": torch.ones(3, dtype=torch.bool)},
        {"k": 4, "batch": torch.zeros(3, dtype=torch.long)},
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        knn_graph(torch.zeros(10, 3), **kwargs)
    with pytest.raises(ValueError):
        knn_graph(torch.zeros(10), 4)


def test_10k_residues_never_allocate_an_LxL_matrix(promod3, monkeypatch):
    """A 10,000-point input: every distance block is chunk x L, and no single op allocates L x L."""
    idx, total, chains = 0, 0, []
    while total < 10_000:
        c = promod3.chain(idx)
        chains.append(c.ca)
        total += len(c)
        idx += 1
    pos = torch.from_numpy(np.concatenate(chains)[:10_000]).float()
    n, chunk = pos.shape[0], 512

    shapes = []
    real_cdist = torch.cdist

    def recording_cdist(a, b, *args, **kw):
        shapes.append((a.shape[0], b.shape[0]))
        return real_cdist(a, b, *args, **kw)

    monkeypatch.setattr(torch, "cdist", recording_cdist)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        ei = knn_graph(pos, 16, chunk_size=chunk)
    assert ei.shape == (2, n * 16)
    assert len(shapes) == -(-n // chunk) and max(r for r, _ in shapes) <= chunk
    biggest = max(ev.cpu_memory_usage for ev in prof.events())
    full = n * n * pos.element_size()
    assert 0 < biggest <= chunk * n * pos.element_size() * 1.05, (biggest, full)
    assert biggest < full / 10
    # spot-check correctness on a few targets against exact float64 distances
    d = torch.cdist(pos[:5].double(), pos.double())
    d[torch.arange(5), torch.arange(5)] = float("inf")
    ref = d.topk(16, largest=False).indices
    got = ei[0].view(n, 16)[:5]
    assert torch.equal(got, ref)
