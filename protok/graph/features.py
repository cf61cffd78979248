"""Invariant node and edge features of residue frame graphs.

Node scalars (``NODE_S_DIM`` = 9): ``sin/cos`` of the backbone dihedrals phi, psi, omega and one validity
flag each (0 at chain ends, chain breaks and missing atoms, where sin/cos are also 0). The sines are
parity-odd: a mirror image flips their sign.

Edge scalars (``EDGE_S_DIM`` = 223) for an edge j -> i (neighbour j of centre i), in this order:

=============  =====  ===========================================================================
block          width  meaning
=============  =====  ===========================================================================
distance RBF   144    16 Gaussians on 0-20 Å for each atom pair in :data:`RBF_ATOM_PAIRS` (atom of i,
                      atom of j); zero where an atom (O) is missing
orientation    9      ``R_i^T R_j`` row-major (relative rotation of the two frames)
direction      3      unit ``CA_j - CA_i`` in frame i (``R_i^T`` applied)
separation     66     one-hot of the separation bucket of ``r_j - r_i`` (65 buckets) or "other chain" (last)
same chain     1      1.0 if i and j are in the same chain
=============  =====  ===========================================================================

``r`` is the position within the chain (``residue_idx``). Two bucketings of the separation exist
(:data:`SEPARATION_SCHEMES`, chosen by the encoder's config): ``"clip32"``, ``clip(r_j - r_i, -32, 32)``
(what graphs store in ``edge_sep``), and ``"log"``, exact to ±16 and then four buckets per doubling, the last
open from ±216 (:func:`separation_bucket`), so that a residue can tell which distant part of its chain it
touches. Orientation and direction components along the
local z axis change sign under a mirror reflection.

Graphs do not store this ``(E, 223)`` matrix: :func:`edge_geometry` computes the compact raw fields
:data:`EDGE_FIELDS` (``edge_dist`` (E, 9), ``edge_rot`` (E, 9), ``edge_dir`` (E, 3), ``edge_sep`` (E,))
that ``build_graph`` stores, and :func:`expand_edge_scalars` / :func:`expand_edge_geometry` rebuild the
matrix on demand (inside the encoder's forward, batched). The same-chain flag is
``edge_sep != OTHER_CHAIN_BUCKET``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from protok.errors import ConfigError
from protok.graph.frames import normalize

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = [
    "AA_ALPHABET",
    "UNKNOWN_AA",
    "NODE_S_DIM",
    "NODE_V_DIM",
    "EDGE_S_DIM",
    "RBF_ATOM_PAIRS",
    "RBF_COUNT",
    "RBF_MAX",
    "MAX_SEPARATION",
    "encode_sequence",
    "rbf",
    "dihedral",
    "dihedral_xy",
    "backbone_dihedrals",
    "EDGE_FIELDS",
    "OTHER_CHAIN_BUCKET",
    "SEPARATION_SCHEMES",
    "separation_bucket",
    "edge_geometry",
    "expand_edge_geometry",
    "expand_edge_scalars",
    "linear_edge_scalars",
    "edge_scalars",
]

#: Amino-acid alphabet of ``Data.seq``; index 20 (:data:`UNKNOWN_AA`) is anything else (``X``).
AA_ALPHABET: str = "ACDEFGHIKLMNPQRSTVWY"
UNKNOWN_AA: int = len(AA_ALPHABET)

#: Atoms available for distance features, in the order of the internal ``(N, 5, 3)`` atom tensor.
FEATURE_ATOMS: tuple[str, ...] = ("N", "CA", "C", "O", "CB")
#: (atom of centre i, atom of neighbour j) pairs whose distances enter the edge RBFs.
RBF_ATOM_PAIRS: tuple[tuple[str, str], ...] = (
    ("CA", "CA"),
    ("CB", "CB"),
    ("N", "N"),
    ("C", "C"),
    ("O", "O"),
    ("N", "O"),
    ("O", "N"),
    ("CA", "CB"),
    ("CB", "CA"),
)
#: Gaussians per distance and their range (Å).
RBF_COUNT: int = 16
RBF_MAX: float = 20.0
#: :func:`rbf`'s base-2 exponents stop at minus this (``80 log2 e``: values stay >= exp(-80)).
_RBF_CLAMP: float = 80.0 * math.log2(math.e)
#: Sequence separations are clipped to ``[-MAX_SEPARATION, MAX_SEPARATION]``.
MAX_SEPARATION: int = 32

NODE_S_DIM: int = 9
NODE_V_DIM: int = 3
_SEP_BUCKETS = 2 * MAX_SEPARATION + 2
EDGE_S_DIM: int = len(RBF_ATOM_PAIRS) * RBF_COUNT + 9 + 3 + _SEP_BUCKETS + 1
#: Separation bucket of edges between different chains (the last of the ``2 * MAX_SEPARATION + 2``).
OTHER_CHAIN_BUCKET: int = _SEP_BUCKETS - 1
#: Sequence-separation bucketings (see the module docstring).
SEPARATION_SCHEMES: tuple[str, ...] = ("clip32", "log")
#: "log" scheme: separations up to this are exact; beyond, ``_LOG_PER_DOUBLING`` buckets per doubling.
_LOG_LINEAR: int = 16
_LOG_PER_DOUBLING: int = 4
#: Columns of the distance RBF, orientation and direction blocks (all but separation and same-chain).
_N_GEOMETRY: int = len(RBF_ATOM_PAIRS) * RBF_COUNT + 12
#: Raw edge fields stored in the graph; :func:`expand_edge_scalars` expands them to ``edge_s``.
EDGE_FIELDS: tuple[str, ...] = ("edge_dist", "edge_rot", "edge_dir", "edge_sep")

_AA_LOOKUP = np.full(256, UNKNOWN_AA, dtype=np.int64)
for _i, _a in enumerate(AA_ALPHABET):
    _AA_LOOKUP[ord(_a)] = _i
    _AA_LOOKUP[ord(_a.lower())] = _i
_PAIR_I = torch.tensor([FEATURE_ATOMS.index(a) for a, _ in RBF_ATOM_PAIRS])
_PAIR_J = torch.tensor([FEATURE_ATOMS.index(b) for _, b in RBF_ATOM_PAIRS])


def encode_sequence(sequence: str) -> torch.Tensor:
    """Amino-acid indices in :data:`AA_ALPHABET` (anything else -> :data:`UNKNOWN_AA`).

    Parameters
    ----------
    sequence : str
        One-letter codes, length L.

    Returns
    -------
    Tensor, shape=(L,), dtype=int64

    Examples
    --------
    >>> encode_sequence("ACX").tolist()
    [0, 1, 20]
    """
    raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
    return torch.from_numpy(_AA_LOOKUP[raw])


def rbf(
    d: torch.Tensor, d_max: float = RBF_MAX, count: int = RBF_COUNT, *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Gaussian radial basis of distances, centres evenly on ``[0, d_max]``, width ``d_max / count``.

    Parameters
    ----------
    d : Tensor, shape=(...)
        Distances in Å.
    out : Tensor, shape=(..., count), optional
        Where to write the result (may be a strided view).

    Returns
    -------
    Tensor, shape=(..., count)
    """
    mu = torch.linspace(0.0, d_max, count, dtype=d.dtype, device=d.device)
    sigma = d_max / count
    # One (..., count) buffer, then in place. The distances are repeated first (a subtraction that broadcasts
    # them along the last axis runs 1.4x slower); d - mu is exact near each centre, where the RBF is large,
    # so the result is within 1e-7 of float64's (dividing by sigma first rounds to ~1e-6). exp(-x^2) is
    # computed as 2^(-x^2 log2 e): torch's exp2 takes a third of exp's time on a CPU.
    out = torch.sub(d.unsqueeze(-1).repeat_interleave(count, dim=-1), mu, out=out)
    # Clamping the exponent at -80 (natural log) keeps results normal floats (>= 1.8e-35): subnormal results
    # are ~20x slower on x86 CPUs and far distances would otherwise produce them for most entries.
    out.square_().mul_(-math.log2(math.e) / sigma**2).clamp_(min=-_RBF_CLAMP).exp2_()
    return out


def dihedral(p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, p3: torch.Tensor) -> torch.Tensor:
    """Dihedral angles (radians, in ``(-pi, pi]``) of the atom quadruples ``p0-p1-p2-p3`` (IUPAC sign).

    Parameters
    ----------
    p0, p1, p2, p3 : Tensor, shape=(..., 3)

    Returns
    -------
    Tensor, shape=(...)
    """
    x, y = dihedral_xy(p0, p1, p2, p3)
    return torch.atan2(y, x)


def dihedral_xy(
    p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, p3: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` with ``atan2(y, x)`` the dihedral of ``p0-p1-p2-p3``: proportional to its cosine and sine
    (smooth everywhere, unlike the angle; :func:`dihedral` takes the ``atan2``)."""
    b0 = p0 - p1
    b1 = normalize(p2 - p1)
    b2 = p3 - p2
    v = b0 - (b0 * b1).sum(-1, keepdim=True) * b1
    w = b2 - (b2 * b1).sum(-1, keepdim=True) * b1
    x = (v * w).sum(-1)
    y = (torch.linalg.cross(b1, v, dim=-1) * w).sum(-1)
    return x, y


def backbone_dihedrals(
    coords: torch.Tensor, atom_mask: torch.Tensor, chain_break: torch.Tensor
) -> torch.Tensor:
    """Node scalars: sin/cos of phi, psi, omega with validity flags.

    ``phi_i = C_{i-1}-N_i-CA_i-C_i``, ``psi_i = N_i-CA_i-C_i-N_{i+1}``,
    ``omega_i = CA_i-C_i-N_{i+1}-CA_{i+1}`` (the peptide bond after residue i).

    Parameters
    ----------
    coords : Tensor, shape=(N, 4, 3)
        N, CA, C, O of all residues, chains concatenated (finite everywhere; missing atoms may hold 0).
    atom_mask : Tensor, shape=(N, 4), dtype=bool
    chain_break : Tensor, shape=(N,), dtype=bool
        True where residue i is not bonded to i-1 (including the first residue of every chain but the
        first; residue 0 is never bonded to a predecessor).

    Returns
    -------
    Tensor, shape=(N, NODE_S_DIM)
        ``[sin phi, cos phi, sin psi, cos psi, sin omega, cos omega, phi ok, psi ok, omega ok]``; where a
        flag is 0 the sin/cos entries are 0.
    """
    n = coords.shape[0]
    out = coords.new_zeros(n, NODE_S_DIM)
    if n < 2:
        return out
    bonded = ~chain_break[1:] & atom_mask[:-1, 2] & atom_mask[1:, 0]  # i -> i+1, shape (n-1,)
    N, CA, C = coords[:, 0], coords[:, 1], coords[:, 2]
    # phi for residues 1..n-1; psi and omega for residues 0..n-2: one batched call, shape (3, n-1)
    angles = dihedral(
        torch.stack([C[:-1], N[:-1], CA[:-1]]),
        torch.stack([N[1:], CA[:-1], C[:-1]]),
        torch.stack([CA[1:], C[:-1], N[1:]]),
        torch.stack([C[1:], N[1:], CA[1:]]),
    )
    ok = torch.stack(
        [
            bonded & atom_mask[1:, 1] & atom_mask[1:, 2],
            bonded & atom_mask[:-1, 1] & atom_mask[:-1, 0],
            bonded & atom_mask[:-1, 1] & atom_mask[1:, 1],
        ]
    ).to(coords.dtype)
    sin_cos = torch.stack([torch.sin(angles) * ok, torch.cos(angles) * ok], dim=-1)  # (3, n-1, 2)
    out[1:, 0:2] = sin_cos[0]
    out[:-1, 2:6] = sin_cos[1:].transpose(0, 1).reshape(n - 1, 4)
    out[1:, 6] = ok[0]
    out[:-1, 7:9] = ok[1:].T
    return out


def _pair_ok(atom_ok: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor | None:
    """(E, 9) bool: both atoms of each RBF pair exist; ``None`` when every atom of every residue exists."""
    if bool(atom_ok.all()):
        return None
    ok_i = atom_ok.index_select(1, _PAIR_I.to(atom_ok.device))  # (N, 9): gather per node, then per edge
    ok_j = atom_ok.index_select(1, _PAIR_J.to(atom_ok.device))
    return ok_i.index_select(0, edge_index[1]) & ok_j.index_select(0, edge_index[0])


def separation_bucket(sep: torch.Tensor, same_chain: torch.Tensor, scheme: str = "clip32") -> torch.Tensor:
    """Separation bucket in ``[0, OTHER_CHAIN_BUCKET]`` of signed sequence separations ``r_j - r_i``.

    Parameters
    ----------
    sep : Tensor, shape=(E,), integer
        ``r_j - r_i`` (ignored where ``same_chain`` is False).
    same_chain : Tensor, shape=(E,), dtype=bool
    scheme : str
        ``"clip32"``: ``clip(sep, -32, 32) + 32``. ``"log"``: ``sep + 32`` for ``|sep| <= 16``; beyond,
        ``32 ± (16 + b + 1)`` with ``b = min(floor(4 log2(|sep| / 16)), 15)`` (same 65 buckets, the outermost
        open from ``|sep| >= 216``).

    Returns
    -------
    Tensor, shape=(E,), dtype=int64
    """
    if scheme not in SEPARATION_SCHEMES:
        raise ConfigError(f"separation scheme must be one of {SEPARATION_SCHEMES}, got {scheme!r}")
    sep = sep.long()
    if scheme == "clip32":
        bucket = sep.clamp(-MAX_SEPARATION, MAX_SEPARATION) + MAX_SEPARATION
    else:
        mag = sep.abs()
        far = torch.floor(_LOG_PER_DOUBLING * torch.log2(mag.clamp_min(1).double() / _LOG_LINEAR)).long()
        far = far.clamp(0, MAX_SEPARATION - _LOG_LINEAR - 1) + _LOG_LINEAR + 1
        mag = torch.where(mag <= _LOG_LINEAR, mag, far)
        bucket = torch.sign(sep) * mag + MAX_SEPARATION
    return torch.where(same_chain, bucket, OTHER_CHAIN_BUCKET)


def edge_geometry(
    atoms: torch.Tensor,
    atom_ok: torch.Tensor,
    rot: torch.Tensor,
    residue_idx: torch.Tensor,
    chain_idx: torch.Tensor,
    edge_index: torch.Tensor,
    edge_vec: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Compact raw edge geometry for edges j -> i, the fields :data:`EDGE_FIELDS` of the graph.

    :func:`expand_edge_geometry` turns these into the ``(E, EDGE_S_DIM)`` edge scalars (layout in the
    module docstring); storing the raw geometry instead of the expanded scalars keeps graphs 9x smaller
    and ``build_graph`` fast.

    Parameters
    ----------
    atoms : Tensor, shape=(N, 5, 3)
        N, CA, C, O, virtual CB.
    atom_ok : Tensor, shape=(N, 5), dtype=bool
        Which of those atoms exist.
    rot : Tensor, shape=(N, 3, 3)
        Frame rotations (columns = local axes).
    residue_idx, chain_idx : Tensor, shape=(N,), dtype=int64
    edge_index : Tensor, shape=(2, E), dtype=int64
        Row 0 = source j, row 1 = target i.
    edge_vec : Tensor, shape=(E, 3), optional
        ``CA_j - CA_i`` if already computed (saves one gather).

    Returns
    -------
    dict[str, Tensor]
        ``edge_dist`` (E, 9) distances of the :data:`RBF_ATOM_PAIRS` (Å; NaN where an atom of the pair is
        missing), ``edge_rot`` (E, 9) ``R_i^T R_j`` row-major, ``edge_dir`` (E, 3) unit ``CA_j - CA_i`` in
        frame i, ``edge_sep`` (E,) int64 separation bucket: ``clip(r_j - r_i, -32, 32) + 32`` within a
        chain, :data:`OTHER_CHAIN_BUCKET` between chains.
    """
    j, i = edge_index[0], edge_index[1]
    e = j.shape[0]
    dev = atoms.device
    pair_i = atoms.index_select(1, _PAIR_I.to(dev))  # (N, 9, 3): gather per node, then per edge
    pair_j = atoms.index_select(1, _PAIR_J.to(dev))
    dist = torch.linalg.vector_norm(pair_j.index_select(0, j) - pair_i.index_select(0, i), dim=-1)
    pair_ok = _pair_ok(atom_ok, edge_index)
    if pair_ok is not None:
        dist.masked_fill_(~pair_ok, float("nan"))

    if edge_vec is None:
        edge_vec = atoms[:, 1].index_select(0, j) - atoms[:, 1].index_select(0, i)
    rot_i_t = rot.index_select(0, i).transpose(1, 2)
    edge_rot = torch.bmm(rot_i_t, rot.index_select(0, j)).reshape(e, 9)
    edge_dir = torch.bmm(rot_i_t, normalize(edge_vec).unsqueeze(-1)).reshape(e, 3)

    same = chain_idx.index_select(0, j) == chain_idx.index_select(0, i)
    sep = separation_bucket(residue_idx.index_select(0, j) - residue_idx.index_select(0, i), same)
    return {"edge_dist": dist, "edge_rot": edge_rot, "edge_dir": edge_dir, "edge_sep": sep}


def expand_edge_geometry(
    edge_dist: torch.Tensor, edge_rot: torch.Tensor, edge_dir: torch.Tensor, edge_sep: torch.Tensor
) -> torch.Tensor:
    """The ``(E, EDGE_S_DIM)`` edge scalars (layout in the module docstring) from the raw edge geometry.

    Vectorised (about ten kernels whatever E is), differentiable in ``edge_dist`` / ``edge_rot`` /
    ``edge_dir``; runs on the device and in the float dtype of ``edge_dist``.

    Parameters
    ----------
    edge_dist : Tensor, shape=(E, 9)
        Pair distances, NaN where a pair's atom is missing (its RBFs are 0).
    edge_rot : Tensor, shape=(E, 9) or (E, 3, 3)
    edge_dir : Tensor, shape=(E, 3)
    edge_sep : Tensor, shape=(E,), integer
        Separation bucket in ``[0, OTHER_CHAIN_BUCKET]``.

    Returns
    -------
    Tensor, shape=(E, EDGE_S_DIM)
    """
    e = edge_dist.shape[0]
    # One output buffer written block by block (no torch.cat, no int64 one-hot).
    out = edge_dist.new_empty(e, EDGE_S_DIM)
    _fill_geometry_block(out[:, :_N_GEOMETRY], edge_dist, edge_rot, edge_dir)
    sep = edge_sep.reshape(e, 1).long()
    sep_feat = out[:, _N_GEOMETRY : _N_GEOMETRY + _SEP_BUCKETS]
    sep_feat.zero_()
    sep_feat.scatter_(1, sep, 1.0)
    out[:, -1] = sep[:, 0] != OTHER_CHAIN_BUCKET
    return out


def _fill_geometry_block(
    out: torch.Tensor, edge_dist: torch.Tensor, edge_rot: torch.Tensor, edge_dir: torch.Tensor
) -> None:
    """Write the RBF, orientation and direction columns (``_N_GEOMETRY`` of them) into ``out``."""
    e = edge_dist.shape[0]
    n_rbf = len(RBF_ATOM_PAIRS) * RBF_COUNT
    dist_feat = out[:, :n_rbf].view(e, len(RBF_ATOM_PAIRS), RBF_COUNT)
    rbf(edge_dist, out=dist_feat)
    if bool(torch.isnan(edge_dist.sum())):  # a NaN anywhere (distances are >= 0: no inf - inf)
        dist_feat.nan_to_num_(nan=0.0)  # missing atom pairs (NaN distance) -> all-zero RBFs
    out[:, n_rbf : n_rbf + 9] = edge_rot.reshape(e, 9)
    out[:, n_rbf + 9 : n_rbf + 12] = edge_dir.reshape(e, 3)


def _require_edge_fields(data: Data) -> None:
    missing = [name for name in EDGE_FIELDS if getattr(data, name, None) is None]
    if missing:
        raise ConfigError(
            f"graph lacks the edge geometry fields {missing}; build it with protok.graph.build_graph"
        )


def expand_edge_scalars(data: Data) -> torch.Tensor:
    """The ``(E, EDGE_S_DIM)`` edge scalars of a graph or batch (computed on demand, not stored).

    Graphs from :func:`~protok.graph.build_graph` carry the compact fields :data:`EDGE_FIELDS`; this
    expands them (batched: call it on a ``Batch``).

    Parameters
    ----------
    data : torch_geometric.data.Data or Batch

    Returns
    -------
    Tensor, shape=(E, EDGE_S_DIM)

    Raises
    ------
    ConfigError
        If the graph lacks any of :data:`EDGE_FIELDS`.
    """
    _require_edge_fields(data)
    return expand_edge_geometry(data.edge_dist, data.edge_rot, data.edge_dir, data.edge_sep)


def linear_edge_scalars(
    data: Data,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    edge_sep: torch.Tensor | None = None,
    *,
    block: int | None = None,
    activation: Callable[[torch.Tensor], object] | None = None,
) -> torch.Tensor:
    """``expand_edge_scalars(data) @ weight.T + bias`` without building the ``(E, EDGE_S_DIM)`` matrix.

    The separation one-hot and the same-chain flag (67 of the 223 columns) select one row of a small
    ``(66, out)`` table of weight columns instead of a matrix product, and only the RBF, orientation and
    direction blocks (156 columns) go through the product: the same linear map in fewer passes over
    memory.
    Equal to the expanded form up to float rounding; differentiable in ``weight``, ``bias`` and the
    float edge fields.

    Parameters
    ----------
    data : torch_geometric.data.Data or Batch
        A graph of :func:`~protok.graph.build_graph`.
    weight : Tensor, shape=(out, EDGE_S_DIM)
    bias : Tensor, shape=(out,), optional
    edge_sep : Tensor, shape=(E,), optional
        Separation buckets to use instead of the graph's ``edge_sep`` (another scheme).
    block : int, optional
        Without autograd: compute ``block`` edges at a time, reusing one ``(block, 156)`` feature matrix
        that stays in cache (the whole ``(E, 156)`` matrix of a large batch does not; ``block`` is rounded
        down to a multiple of 64, at least 64). Every row is computed by the same kernels on the same
        layout, so the result has the same bits as without.
    activation : callable, optional
        Applied in place to each block of the result (e.g. ``torch.nn.functional.silu_``), while it is in
        cache; without ``block``, to the whole result.

    Returns
    -------
    Tensor, shape=(E, out), in the dtype of ``weight``

    Raises
    ------
    ConfigError
        If ``weight`` does not have ``EDGE_S_DIM`` columns, or the graph lacks the edge fields.
    """
    if weight.ndim != 2 or weight.shape[1] != EDGE_S_DIM:
        raise ConfigError(
            f"graph edge_s has {EDGE_S_DIM} features but the edge weight has shape {tuple(weight.shape)} "
            f"(expected (out, {EDGE_S_DIM}): check the encoder's edge_s_dim)"
        )
    _require_edge_fields(data)
    dist, rot, direction = data.edge_dist, data.edge_rot, data.edge_dir
    e = dist.shape[0]
    # Row b of the table: separation column b, plus the same-chain column unless b is "other chain", plus bias.
    table = weight[:, _N_GEOMETRY : _N_GEOMETRY + _SEP_BUCKETS].t()
    same_chain = (torch.arange(_SEP_BUCKETS, device=weight.device) != OTHER_CHAIN_BUCKET).to(weight.dtype)
    table = table + same_chain[:, None] * weight[:, -1]
    if bias is not None:
        table = table + bias
    sep = (data.edge_sep if edge_sep is None else edge_sep).reshape(e).long()
    w_geo = weight[:, :_N_GEOMETRY].t()
    if block is None or block >= e or torch.is_grad_enabled():
        out = _linear_edge_rows(dist, rot, direction, sep, table, w_geo)
        if activation is not None:
            activation(out)
        return out
    # Blocks of a multiple of 64 rows: an elementwise ``activation`` then splits every block into its vector
    # loop and scalar remainder exactly as it splits the whole result (the two can round differently).
    block = max(64, block - block % 64)
    out = weight.new_empty(e, weight.shape[0])
    dense = dist.new_empty(min(block, e), _N_GEOMETRY)
    for start in range(0, e, block):
        rows = slice(start, min(start + block, e))
        n = rows.stop - start
        part = _linear_edge_rows(
            dist[rows], rot[rows], direction[rows], sep[rows], table, w_geo, dense=dense[:n], out=out[rows]
        )
        if activation is not None:
            activation(part)
    return out


def _linear_edge_rows(
    dist: torch.Tensor,
    rot: torch.Tensor,
    direction: torch.Tensor,
    sep: torch.Tensor,
    table: torch.Tensor,
    w_geo: torch.Tensor,
    *,
    dense: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``table[sep] + geometry columns @ w_geo`` for some edges (``dense``: where to write the columns)."""
    e = dist.shape[0]
    dense = dist.new_empty(e, _N_GEOMETRY) if dense is None else dense
    _fill_geometry_block(dense, dist, rot, direction)
    if out is None:
        return torch.addmm(table[sep], dense.to(w_geo.dtype), w_geo)
    # The table rows go straight into ``out`` and the product adds to them there (what addmm does with a
    # separate input after copying it into its result).
    rows = torch.index_select(table, 0, sep, out=out)
    return torch.addmm(rows, dense.to(w_geo.dtype), w_geo, out=rows)


def edge_scalars(
    atoms: torch.Tensor,
    atom_ok: torch.Tensor,
    rot: torch.Tensor,
    residue_idx: torch.Tensor,
    chain_idx: torch.Tensor,
    edge_index: torch.Tensor,
) -> torch.Tensor:
    """Invariant edge scalars for edges j -> i (layout in the module docstring).

    ``expand_edge_geometry(**edge_geometry(...))``; parameters as in :func:`edge_geometry`.

    Returns
    -------
    Tensor, shape=(E, EDGE_S_DIM)
    """
    return expand_edge_geometry(**edge_geometry(atoms, atom_ok, rot, residue_idx, chain_idx, edge_index))
