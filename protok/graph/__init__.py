"""Residue frame graphs: per-residue rigid frames, chunked kNN over CA, invariant and equivariant features.

``build_graph(x, k=16)`` turns a :class:`~protok.structures.ProteinChain`, a
:class:`~protok.structures.ProteinComplex` or a sequence of chains into a ``torch_geometric.data.Data``
whose fields are documented in ``docs/architecture.md``. ``graph_fields`` returns the same fields as a plain
dict and ``GraphBatch`` batches their encoder fields: the inference path, which does not import
torch_geometric.
"""

from protok.graph.batch import ENCODER_FIELDS, GraphBatch
from protok.graph.build import GraphInput, as_chains, build_graph, geometry_fields, graph_fields, regraph
from protok.graph.features import (
    AA_ALPHABET,
    EDGE_FIELDS,
    EDGE_S_DIM,
    MAX_SEPARATION,
    NODE_S_DIM,
    NODE_V_DIM,
    OTHER_CHAIN_BUCKET,
    RBF_ATOM_PAIRS,
    RBF_COUNT,
    RBF_MAX,
    SEPARATION_SCHEMES,
    UNKNOWN_AA,
    backbone_dihedrals,
    dihedral,
    edge_geometry,
    edge_scalars,
    encode_sequence,
    expand_edge_geometry,
    expand_edge_scalars,
    linear_edge_scalars,
    rbf,
    separation_bucket,
)
from protok.graph.frames import CB_COEFFS, backbone_frames, normalize, virtual_cb
from protok.graph.knn import DEFAULT_CHUNK_SIZE, knn_graph

__all__ = [
    "ENCODER_FIELDS",
    "GraphBatch",
    "geometry_fields",
    "graph_fields",
    "regraph",
    "AA_ALPHABET",
    "CB_COEFFS",
    "DEFAULT_CHUNK_SIZE",
    "EDGE_FIELDS",
    "EDGE_S_DIM",
    "GraphInput",
    "MAX_SEPARATION",
    "NODE_S_DIM",
    "NODE_V_DIM",
    "OTHER_CHAIN_BUCKET",
    "SEPARATION_SCHEMES",
    "RBF_ATOM_PAIRS",
    "RBF_COUNT",
    "RBF_MAX",
    "UNKNOWN_AA",
    "as_chains",
    "backbone_dihedrals",
    "backbone_frames",
    "build_graph",
    "dihedral",
    "edge_geometry",
    "separation_bucket",
    "edge_scalars",
    "encode_sequence",
    "expand_edge_geometry",
    "expand_edge_scalars",
    "knn_graph",
    "linear_edge_scalars",
    "normalize",
    "rbf",
    "virtual_cb",
]
