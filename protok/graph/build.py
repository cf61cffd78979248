"""Build the residue frame graph (a ``torch_geometric.data.Data``) of a chain or complex.

The field contract is documented in ``docs/architecture.md`` ("Residue frame graph"). Everything is
vectorised torch: no Python loop over residues or edges (only over chains and kNN chunks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from protok.graph.batch import ENCODER_FIELDS, GraphBatch
from protok.graph.features import backbone_dihedrals, edge_geometry, encode_sequence
from protok.graph.frames import backbone_frames, normalize, virtual_cb
from protok.graph.knn import DEFAULT_CHUNK_SIZE, knn_graph
from protok.structures.chain import ProteinChain, ProteinComplex

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["GraphInput", "as_chains", "build_graph", "geometry_fields", "graph_fields", "regraph"]

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
    raw = torch.from_numpy(a["coords"].astype(_NP_DTYPES[dtype]))
    fields = geometry_fields(
        raw,
        torch.from_numpy(a["mask"]),
        torch.from_numpy(a["breaks"]),
        torch.from_numpy(a["residue_idx"]),
        torch.from_numpy(a["chain_idx"]),
        k,
        chunk_size=chunk_size,
    )
    coords, atom_mask = fields.pop("coords"), fields.pop("atom_mask")
    return dict(
        **fields,
        seq=encode_sequence("".join(c.sequence for c in chains)),
        coords=coords,
        atom_mask=atom_mask,
        b_factor=torch.from_numpy(a["bfac"].astype(_NP_DTYPES[dtype])),
        num_nodes=raw.shape[0],
    )


def regraph(graph: Any, coords: torch.Tensor, k: int | None = None) -> GraphBatch:
    """The encoder's view of ``graph``'s residues at other backbone coordinates, e.g. a noisy copy.

    Same residues, residue layout and missing atoms; frames, node features and the kNN edges are recomputed
    from ``coords`` on their device (under bf16 autocast too: the geometry runs in ``coords``' dtype).

    Parameters
    ----------
    graph : torch_geometric Data or Batch, or GraphBatch
        Needs ``atom_mask``, ``chain_break``, ``residue_idx``, ``chain_idx`` (and ``batch`` for several
        complexes) and, when ``k`` is None, ``edge_index``.
    coords : Tensor, shape=(N, 4, 3)
    k : int, optional
        Neighbours per residue; None: ``graph``'s own (its largest in-degree), so the copy is built as
        ``graph`` was.

    Returns
    -------
    GraphBatch
        The fields :data:`~protok.graph.batch.ENCODER_FIELDS` and ``batch``.
    """
    from protok._precision import full_precision

    if k is None:
        dst = graph.edge_index[1]
        k = int(torch.bincount(dst).max()) if dst.numel() else 1
    batch = getattr(graph, "batch", None)
    if batch is None:
        batch = torch.zeros(coords.shape[0], dtype=torch.long, device=coords.device)
    with full_precision(coords.device):
        fields = geometry_fields(
            coords,
            graph.atom_mask,
            graph.chain_break.bool(),
            graph.residue_idx,
            graph.chain_idx,
            max(k, 1),
            batch=batch,
        )
    return GraphBatch({name: fields[name] for name in ENCODER_FIELDS}, coords.shape[0], batch)


def geometry_fields(
    coords: torch.Tensor,
    atom_mask: torch.Tensor,
    chain_break: torch.Tensor,
    residue_idx: torch.Tensor,
    chain_idx: torch.Tensor,
    k: int,
    *,
    batch: torch.Tensor | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, torch.Tensor]:
    """The coordinate-dependent fields of :func:`build_graph` from backbone coordinates and the residue layout.

    Runs on the device and in the float dtype of ``coords``. With ``batch`` it builds the graphs of several
    complexes at once, as ``torch_geometric.data.Batch`` concatenates them (kNN edges never cross complexes,
    each complex's first residue bonded to nothing before it), as :func:`regraph` does to rebuild a
    training batch's graphs at new coordinates.

    Parameters
    ----------
    coords : Tensor, shape=(N, 4, 3)
        N, CA, C, O (any value, even non-finite, where an atom is missing).
    atom_mask : Tensor, shape=(N, 4), dtype=bool
        Present atoms (non-finite coordinates count as missing).
    chain_break : Tensor, shape=(N,), dtype=bool
    residue_idx, chain_idx : Tensor, shape=(N,), dtype=int64
    k : int
        Neighbours per residue.
    batch : Tensor, shape=(N,), dtype=int64, optional
        Complex of each residue (PyG ``batch`` vector); None = one complex.
    chunk_size : int

    Returns
    -------
    dict of str to Tensor
        ``pos, frame_rot, cb, node_mask, node_s, node_v, edge_index``, the edge geometry fields,
        ``edge_vec, residue_idx, chain_idx, chain_break, coords, atom_mask``.
    """
    dtype = coords.dtype
    atom_mask = atom_mask.bool() & torch.isfinite(coords).all(-1)
    coords = torch.where(atom_mask.unsqueeze(-1), coords, torch.zeros((), dtype=dtype, device=coords.device))
    node_mask = atom_mask[:, :3].all(-1)
    nm = node_mask.unsqueeze(-1)
    bonded_break = chain_break
    if batch is not None and batch.numel() > 1:  # a complex's first residue follows another complex
        bonded_break = chain_break.clone()
        bonded_break[1:] |= batch[1:] != batch[:-1]

    pos = coords[:, 1]
    rot = backbone_frames(coords)
    rot = torch.where(nm.unsqueeze(-1), rot, torch.eye(3, dtype=dtype, device=coords.device))
    cb = torch.where(nm, virtual_cb(coords), torch.zeros((), dtype=dtype, device=coords.device))
    node_v = torch.where(
        nm.unsqueeze(-1),
        normalize(torch.stack([coords[:, 0], coords[:, 2], cb], dim=1) - pos.unsqueeze(1)),
        torch.zeros((), dtype=dtype, device=coords.device),
    )
    node_s = backbone_dihedrals(coords, atom_mask, bonded_break)

    edge_index = knn_graph(pos, k, mask=node_mask, batch=batch, chunk_size=chunk_size)
    atoms = torch.cat([coords, cb.unsqueeze(1)], dim=1)
    atom_ok = torch.cat([atom_mask, node_mask.unsqueeze(-1)], dim=1)
    edge_vec = pos.index_select(0, edge_index[0]) - pos.index_select(0, edge_index[1])
    edges = edge_geometry(atoms, atom_ok, rot, residue_idx, chain_idx, edge_index, edge_vec)
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
        coords=coords,
        atom_mask=atom_mask,
    )
