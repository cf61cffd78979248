"""Build the residue frame graph (a ``torch_geometric.data.Data``) of a chain or complex.

The field contract is documented in ``docs/architecture.md`` ("Residue frame graph"). Everything is
vectorised torch: no Python loop over residues or edges (only over chains and kNN chunks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from protok.graph.features import backbone_dihedrals, edge_geometry, encode_sequence
from protok.graph.frames import backbone_frames, normalize, virtual_cb
from protok.graph.knn import DEFAULT_CHUNK_SIZE, knn_graph
from protok.structures.chain import ProteinChain, ProteinComplex

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["GraphInput", "as_chains", "build_graph", "graph_fields"]

#: What :func:`build_graph` accepts.
GraphInput = ProteinChain | ProteinComplex | Sequence[ProteinChain]

_NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def as_chains(x: GraphInput) -> tuple[ProteinChain, ...]:
    """The chains of a chain, complex or sequence of chains, in order.

    Raises
    ------
    TypeError
        If ``x`` (or an element of it) is not a :class:`ProteinChain`.
    """
    if isinstance(x, ProteinChain):
        return (x,)
    if isinstance(x, ProteinComplex):
        return x.chains
    if isinstance(x, Sequence) and not isinstance(x, str | bytes):
        chains = tuple(x)
        for c in chains:
            if not isinstance(c, ProteinChain):
                raise TypeError(f"build_graph: expected ProteinChain items, got {type(c).__name__}")
        return chains
    raise TypeError(
        f"build_graph: expected ProteinChain, ProteinComplex or a sequence of chains, got {type(x).__name__}"
    )


def _concat(chains: tuple[ProteinChain, ...]) -> dict[str, np.ndarray]:
    lengths = np.array([len(c) for c in chains], dtype=np.int64)
    n = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    if len(chains) == 1:
        c = chains[0]
        coords, mask, breaks, bfac = c.coords, c.atom_mask.copy(), c.chain_breaks.copy(), c.b_factors
    else:
        coords = np.concatenate([c.coords for c in chains]) if n else np.zeros((0, 4, 3), np.float32)
        mask = np.concatenate([c.atom_mask for c in chains]) if n else np.zeros((0, 4), bool)
        breaks = np.concatenate([c.chain_breaks for c in chains]) if n else np.zeros(0, bool)
        bfac = np.concatenate([c.b_factors for c in chains]) if n else np.zeros(0, np.float32)
        first = starts[(lengths > 0) & (starts > 0)]
        breaks[first] = True
    chain_idx = np.repeat(np.arange(len(chains), dtype=np.int64), lengths)
    residue_idx = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
    return {
        "coords": coords,
        "mask": mask,
        "breaks": breaks,
        "bfac": bfac,
        "chain_idx": chain_idx,
        "residue_idx": residue_idx,
    }


def build_graph(
    x: GraphInput,
    k: int = 16,
    *,
    dtype: torch.dtype = torch.float32,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Data:
    """Residue frame graph of a chain, a complex, or a sequence of chains.

    Chains are concatenated in order with their boundaries kept explicit (``chain_idx``, ``residue_idx``,
    ``chain_break``); the kNN graph over CA spans all chains (inter-chain edges carry the "other chain"
    separation bucket). Residues lacking N, CA or C are kept with ``node_mask`` False and get no edges.

    Parameters
    ----------
    x : ProteinChain, ProteinComplex or sequence of ProteinChain
    k : int
        Neighbours per residue (each valid residue gets ``min(k, n_valid - 1)`` in-edges).
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64`` for all floating fields.
    chunk_size : int
        kNN query chunk (peak memory ``chunk_size x N`` distances; see :func:`knn_graph`).

    Returns
    -------
    torch_geometric.data.Data
        Fields ``pos, frame_rot, cb, node_mask, node_s, node_v, edge_index, edge_dist, edge_rot,
        edge_dir, edge_sep, edge_vec, residue_idx, chain_idx, chain_break, seq, coords, atom_mask,
        b_factor`` (shapes and meaning in ``docs/architecture.md``). The ``(E, EDGE_S_DIM)`` edge scalars
        are not stored: :func:`~protok.graph.expand_edge_scalars` computes them from the ``edge_*``
        geometry. Batch several with ``torch_geometric.data.Batch.from_data_list``.

    Examples
    --------
    >>> import numpy as np
    >>> from protok.graph import EDGE_S_DIM, expand_edge_scalars
    >>> from protok.structures import ProteinChain
    >>> xyz = np.random.default_rng(0).normal(size=(30, 4, 3)).astype(np.float32) * 5
    >>> g = build_graph(ProteinChain(coords=xyz, atom_mask=np.ones((30, 4), bool), sequence="A" * 30))
    >>> g.edge_index.shape, g.edge_dist.shape, expand_edge_scalars(g).shape[1] == EDGE_S_DIM
    (torch.Size([2, 480]), torch.Size([480, 9]), True)
    """
    from torch_geometric.data import Data

    return Data(**graph_fields(x, k, dtype=dtype, chunk_size=chunk_size))


def graph_fields(
    x: GraphInput,
    k: int = 16,
    *,
    dtype: torch.dtype = torch.float32,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, Any]:
    """The fields of :func:`build_graph` (and ``num_nodes``) as a plain dict, without torch_geometric.

    For code that batches graphs itself (:class:`protok.graph.GraphBatch`, the tokenizer): importing
    torch_geometric costs most of a second per process.
    """
    if dtype not in _NP_DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    chains = as_chains(x)
    a = _concat(chains)
    n = a["coords"].shape[0]

    raw = torch.from_numpy(a["coords"].astype(_NP_DTYPES[dtype]))
    atom_mask = torch.from_numpy(a["mask"]) & torch.isfinite(raw).all(-1)
    coords = torch.where(atom_mask.unsqueeze(-1), raw, torch.zeros((), dtype=dtype))
    node_mask = atom_mask[:, :3].all(-1)
    chain_break = torch.from_numpy(a["breaks"])
    residue_idx = torch.from_numpy(a["residue_idx"])
    chain_idx = torch.from_numpy(a["chain_idx"])
    nm = node_mask.unsqueeze(-1)

    pos = coords[:, 1]
    rot = backbone_frames(coords)
    rot = torch.where(nm.unsqueeze(-1), rot, torch.eye(3, dtype=dtype))
    cb = torch.where(nm, virtual_cb(coords), torch.zeros((), dtype=dtype))
    node_v = torch.where(
        nm.unsqueeze(-1),
        normalize(torch.stack([coords[:, 0], coords[:, 2], cb], dim=1) - pos.unsqueeze(1)),
        torch.zeros((), dtype=dtype),
    )
    node_s = backbone_dihedrals(coords, atom_mask, chain_break)

    edge_index = knn_graph(pos, k, mask=node_mask, chunk_size=chunk_size)
    atoms = torch.cat([coords, cb.unsqueeze(1)], dim=1)
    atom_ok = torch.cat([atom_mask, node_mask.unsqueeze(-1)], dim=1)
    edge_vec = pos.index_select(0, edge_index[0]) - pos.index_select(0, edge_index[1])
    edges = edge_geometry(atoms, atom_ok, rot, residue_idx, chain_idx, edge_index, edge_vec)

    seq = encode_sequence("".join(c.sequence for c in chains))
    b_factor = torch.from_numpy(a["bfac"].astype(_NP_DTYPES[dtype]))
    return dict(
        pos=pos,
        frame_rot=rot,
        cb=cb,
        node_mask=node_mask,
        node_s=node_s,
        node_v=node_v,
        edge_index=edge_index,
        **edges,
        edge_vec=edge_vec,
        residue_idx=residue_idx,
        chain_idx=chain_idx,
        chain_break=chain_break,
        seq=seq,
        coords=coords,
        atom_mask=atom_mask,
        b_factor=b_factor,
        num_nodes=n,
    )
