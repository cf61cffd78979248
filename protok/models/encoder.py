"""SE(3)-equivariant residue encoder: residue frame graph -> one invariant vector per residue.

Architecture (NequIP-style message passing with e3nn)
-----------------------------------------------------
Node state ``h`` has ``scalar_channels`` copies of ``0e``, ``vector_channels`` copies of ``1o`` and, when
``lmax == 2``, ``vector_channels`` copies of ``2e``.

1. **Embedding.** ``o3.Linear`` from the graph's invariant node scalars ``node_s`` (as ``0e``) and its
   equivariant unit vectors ``node_v`` (as ``1o``, x/y/z order, which is e3nn's ``1o`` basis) to ``h``.
2. **Interaction layers** (``num_layers`` times), for every edge j -> i:

   - spherical harmonics ``Y(edge_vec)`` up to ``lmax`` ("component" normalisation);
   - message ``m_ij = TP(W h_j, Y_ij; w_ij)``, an ``o3.TensorProduct`` whose paths are all ``uvu``
     (channel-wise, one weight per input channel and path) with per-edge weights
     ``w_ij = MLP_layer(e_ij)`` from a radial MLP of the invariant edge features, where
     ``e_ij = SiLU(Linear(edge_s_ij))`` is one edge embedding shared by all layers (``edge_s`` is wide, so
     embedding it once is the main saving);
   - sum over the in-edges of i, divided by ``sqrt(k)``;
   - ``o3.Linear`` to the input of an ``e3nn.nn.Gate`` (SiLU on scalars, sigmoid gates on the ``l > 0``
     channels); residual update ``h <- h + Gate(...)``.
3. **Read-out** of invariants only: the ``0e`` channels, the norms of every ``l > 0`` channel, and the raw
   ``node_s`` of the graph (skip connection), through an MLP (SiLU, dropout) to ``out_dim``.

Chirality. The e3nn parity labels are bookkeeping only: the network is equivariant to rotations and
invariant to translations (it sees only ``edge_vec``, unit vectors and invariants), so its output is exactly
SE(3)-invariant. It is *not* mirror-invariant because the graph's invariant features are not: ``node_s``
holds sines of backbone dihedrals and ``edge_s`` holds the relative orientation ``R_i^T R_j`` and the
direction of j in i's (right-handed) frame; these change under reflection, reach every layer through the
radial MLPs, and reach the output directly through the read-out skip connection.

Determinism. Messages are summed through a dense ``(N, max_in_degree, C)`` neighbour table built after a
stable sort of the edges by target, so every residue's sum runs in a fixed order on every device (no
atomics, unlike ``index_add_``/``scatter`` on CUDA) and does not depend on the other chains in a batch.
Results of the same chain alone or inside a ``Batch`` agree to float rounding of the dense layers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import Tensor, nn
from torch_geometric.data import Data

from protok.errors import ConfigError
from protok.graph.features import linear_edge_scalars

__all__ = ["Encoder", "EncoderConfig", "ENCODER_PRESETS"]

# Fallback feature sizes used only while protok.graph does not define them.
_DEFAULT_NODE_S_DIM = 9
_DEFAULT_EDGE_S_DIM = 39
_DEFAULT_NODE_V_DIM = 3


def _graph_dims() -> tuple[int, int, int]:
    """Feature sizes ``(node_s, edge_s, node_v)`` from :mod:`protok.graph` when it defines them."""
    try:
        from protok import graph
    except ImportError:  # pragma: no cover - graph package always exists in the repo
        return _DEFAULT_NODE_S_DIM, _DEFAULT_EDGE_S_DIM, _DEFAULT_NODE_V_DIM
    return (
        int(getattr(graph, "NODE_S_DIM", _DEFAULT_NODE_S_DIM)),
        int(getattr(graph, "EDGE_S_DIM", _DEFAULT_EDGE_S_DIM)),
        int(getattr(graph, "NODE_V_DIM", _DEFAULT_NODE_V_DIM)),
    )


_NODE_S_DIM, _EDGE_S_DIM, _NODE_V_DIM = _graph_dims()


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of :class:`Encoder` (plain JSON-serialisable values; frozen, so presets cannot be
    changed by accident: derive variants with ``dataclasses.replace``).

    Parameters
    ----------
    scalar_channels : int
        Number of ``0e`` channels of the node state.
    vector_channels : int
        Number of ``1o`` channels (and of ``2e`` channels when ``lmax == 2``).
    lmax : int
        Highest degree of spherical harmonics and of node features, 1 or 2.
    num_layers : int
        Number of interaction layers.
    radial_hidden : int
        Hidden width of the radial MLP mapping ``edge_s`` to tensor-product weights.
    k : int
        Neighbours per residue in the graph; messages are summed and divided by ``sqrt(k)``.
    out_dim : int
        Size of the output vector per residue.
    readout_hidden : int
        Hidden width of the invariant read-out MLP.
    dropout : float
        Dropout in the read-out MLP.
    node_s_dim, edge_s_dim, node_v_dim : int
        Input feature sizes; default to ``protok.graph.NODE_S_DIM`` / ``EDGE_S_DIM`` / ``NODE_V_DIM``.
    """

    scalar_channels: int = 32
    vector_channels: int = 8
    lmax: int = 1
    num_layers: int = 3
    radial_hidden: int = 32
    k: int = 16
    out_dim: int = 128
    readout_hidden: int = 128
    dropout: float = 0.0
    node_s_dim: int = _NODE_S_DIM
    edge_s_dim: int = _EDGE_S_DIM
    node_v_dim: int = _NODE_V_DIM

    def __post_init__(self) -> None:
        if self.lmax not in (1, 2):
            raise ConfigError(f"EncoderConfig: lmax must be 1 or 2, got {self.lmax}")
        for name in (
            "scalar_channels",
            "vector_channels",
            "num_layers",
            "radial_hidden",
            "k",
            "out_dim",
            "readout_hidden",
            "node_s_dim",
            "edge_s_dim",
            "node_v_dim",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"EncoderConfig: {name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"EncoderConfig: dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`~protok.errors.ConfigError`."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"EncoderConfig: unknown keys {sorted(unknown)}")
        return cls(**d)


ENCODER_PRESETS: dict[str, EncoderConfig] = {
    # CPU: <= 20 ms per 300-residue chain on 2 cores (benchmarks/encoder_speed.py).
    "small": EncoderConfig(
        scalar_channels=32, vector_channels=8, lmax=1, num_layers=3, radial_hidden=32, out_dim=128
    ),
    # GPU training.
    "base": EncoderConfig(
        scalar_channels=128,
        vector_channels=32,
        lmax=2,
        num_layers=5,
        radial_hidden=64,
        out_dim=256,
        readout_hidden=256,
    ),
}


def _hidden_irreps(cfg: EncoderConfig) -> o3.Irreps:
    irreps = f"{cfg.scalar_channels}x0e + {cfg.vector_channels}x1o"
    if cfg.lmax >= 2:
        irreps += f" + {cfg.vector_channels}x2e"
    return o3.Irreps(irreps)


def _uvu_tensor_product(
    irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_target: o3.Irreps
) -> tuple[o3.TensorProduct, o3.Irreps]:
    """Channel-wise (``uvu``) tensor product with external per-edge weights.

    Every output irrep of ``irreps_in x irreps_sh`` that occurs in ``irreps_target`` gets one path, with
    the multiplicity of its input; returns the product and its (unsimplified) output irreps.
    """
    wanted = {ir for _, ir in irreps_target}
    irreps_out: list[tuple[int, o3.Irrep]] = []
    instructions = []
    for i_in, (mul, ir_in) in enumerate(irreps_in):
        for i_sh, (_, ir_sh) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_sh:
                if ir_out in wanted:
                    instructions.append((i_in, i_sh, len(irreps_out), "uvu", True))
                    irreps_out.append((mul, ir_out))
    out = o3.Irreps(irreps_out)
    tp = o3.TensorProduct(
        irreps_in,
        irreps_sh,
        out,
        instructions,
        shared_weights=False,
        internal_weights=False,
    )
    return tp, out


def _mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class _NeighbourTable:
    """Dense view of the in-edges of every node, for order-fixed, atomics-free sums.

    Parameters
    ----------
    dst : Tensor, shape=(E,), dtype=long
        Target node of each edge.
    num_nodes : int
        N.
    """

    def __init__(self, dst: Tensor, num_nodes: int) -> None:
        num_edges = dst.numel()
        counts = torch.bincount(dst, minlength=num_nodes)
        self.num_nodes = num_nodes
        self.width = width = max(int(counts.max()) if num_edges else 0, 1)
        # When every node has the same in-degree (the usual case) there are no empty slots to pad.
        self.padded = bool(num_edges != num_nodes * width)
        # Regular case: no padding and the edges already grouped by target, as :func:`protok.graph.knn_graph`
        # returns them. The table would be ``arange(E).view(N, width)``, so the sum is a reshape, no gather
        # (same values in the same order as the gather, so the same result).
        self.regular = not self.padded and (num_edges < 2 or bool((dst[1:] >= dst[:-1]).all()))
        self.gather: Tensor | None = None
        if self.regular:
            return
        order = torch.argsort(dst, stable=True)
        sorted_dst = dst[order]
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(num_edges, device=dst.device) - starts[sorted_dst]
        # Edge id at (node, slot); empty slots point at an extra all-zero message row.
        self.gather = torch.full((num_nodes, width), num_edges, dtype=torch.long, device=dst.device)
        self.gather[sorted_dst, slot] = order

    def sum(self, messages: Tensor) -> Tensor:
        """Sum edge messages (E, C), edges in original order, into nodes (N, C)."""
        if self.gather is None:
            return messages.view(-1, self.width, messages.shape[-1]).sum(dim=1)
        if self.padded:
            messages = torch.cat([messages, messages.new_zeros(1, messages.shape[-1])])
        return messages[self.gather].sum(dim=1)


def _linear(lin: o3.Linear, x: Tensor) -> Tensor:
    """``lin(x)``; without autograd, as one dense product ``x @ lin(I)``.

    An ``o3.Linear`` is a block-sparse matrix applied by a dozen small einsums; its matrix, read off by
    applying it to the identity, does the same in one product, which is several times faster on CPU
    batches. The matrix is cached per weight version, so inference pays for it once per weight update. With autograd
    (training) e3nn's own code runs. Equal up to float rounding (the summation order differs).
    """
    if torch.is_grad_enabled() or lin.bias.numel() or not x.is_floating_point():
        return lin(x)
    key = (lin.weight._version, lin.weight.data_ptr(), x.dtype, x.device)
    cached = getattr(lin, "_protok_dense", None)
    if cached is None or cached[0] != key:
        eye = torch.eye(lin.irreps_in.dim, dtype=x.dtype, device=x.device)
        cached = (key, lin(eye))
        object.__setattr__(lin, "_protok_dense", cached)  # a plain attribute: not a buffer, not saved
    return x @ cached[1]


class _FastUVU:
    """The ``lmax = 1`` channel-wise tensor product of :class:`_Interaction`, summed over in-edges.

    Computes exactly the function of e3nn's ``o3.TensorProduct`` (same weight layout, same path weights and
    Wigner-3j factors, so checkpoints are interchangeable; ``tests/models/test_encoder.py`` compares the two)
    but as four broadcast products, each summed over in-edges on its own (batched matrix products on the
    regular layout), with the per-path constants applied after the sum, where there are ``k`` times fewer
    rows. e3nn's generic code path (einsums, a ``cat`` of
    the path outputs, then a gather for the sum) takes 2.9x as long for a 300-residue chain on a CPU
    (``benchmarks/encoder_speed.py``, ``tp_sum`` rows) and more on large batches; the edge work is most of
    the encoder's time.

    Paths, for input ``S x 0e + V x 1o`` and ``Y = (Y0, Y1)`` (``0e + 1o``), in e3nn's instruction order:
    ``0e x 0e -> 0e`` (``w u Y0``), ``0e x 1o -> 1o`` (``w u Y1 / sqrt 3``), ``1o x 0e -> 1o``
    (``w v Y0 / sqrt 3``), ``1o x 1o -> 0e`` (``w (v . Y1) / sqrt 3``), each times e3nn's ``path_weight``.
    """

    _PATHS = ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))

    def __init__(self, tp: o3.TensorProduct) -> None:
        self.n_s = tp.irreps_in1[0].mul
        self.n_v = tp.irreps_in1[1].mul
        scale = []
        for ins, (l1, l2, l3) in zip(tp.instructions, self._PATHS):
            factor = 1.0 if (l1, l2, l3) == (0, 0, 0) else 1.0 / math.sqrt(3.0)
            dim = tp.irreps_out[ins.i_out].dim
            scale.append(torch.full((dim,), ins.path_weight * factor))
        self.scale = torch.cat(scale)

    @classmethod
    def supports(cls, tp: o3.TensorProduct) -> bool:
        """True for the exact layout this class implements (``S x 0e + V x 1o`` times ``0e + 1o``)."""
        ir_in = [(mul, str(ir)) for mul, ir in tp.irreps_in1]
        if len(ir_in) != 2 or ir_in[0][1] != "0e" or ir_in[1][1] != "1o":
            return False
        if [str(ir) for _, ir in tp.irreps_in2] != ["0e", "1o"] or [mul for mul, _ in tp.irreps_in2] != [
            1,
            1,
        ]:
            return False
        paths = [
            (
                tp.irreps_in1[i.i_in1].ir.l,
                tp.irreps_in2[i.i_in2].ir.l,
                tp.irreps_out[i.i_out].ir.l,
                i.connection_mode,
            )
            for i in tp.instructions
        ]
        return paths == [(*p, "uvu") for p in cls._PATHS]

    def aggregate(self, x: Tensor, sh: Tensor, w: Tensor, src: Tensor, table: _NeighbourTable) -> Tensor:
        """``table.sum(tp(x[src], sh, w))`` for node features ``x`` (N, S + 3V), ``sh`` (E, 4), ``w`` (E, 2S + 2V).

        ``Y0`` is e3nn's ``l = 0`` harmonic in "component" normalisation, the constant 1, so its products
        are skipped (multiplying by 1.0 is exact).
        """
        s_n, v_n = self.n_s, self.n_v
        if table.regular:  # (N, k, ...) views: per-node sums as batched products, no E x C temporaries
            n, k = table.num_nodes, table.width
            xs = x[src].view(n, k, -1)
            s, v = xs[..., :s_n], xs[..., s_n:].view(n, k, v_n, 3)
            y1 = sh[:, 1:4].view(n, k, 3)
            w0, w1, w2, w3 = w.view(n, k, -1).split([s_n, s_n, v_n, v_n], dim=-1)
            parts = [
                (w0 * s).sum(1),
                torch.bmm((w1 * s).transpose(1, 2), y1).view(n, 3 * s_n),
                (w2[..., None] * v).sum(1).view(n, 3 * v_n),
                (w3 * torch.einsum("nkuc,nkc->nku", v, y1)).sum(1),
            ]
        else:
            xs = x[src]
            e = xs.shape[0]
            s, v = xs[:, :s_n], xs[:, s_n:].view(e, v_n, 3)
            y1 = sh[:, 1:4]
            w0, w1, w2, w3 = w.split([s_n, s_n, v_n, v_n], dim=1)
            edge_parts = (
                w0 * s,
                ((w1 * s)[:, :, None] * y1[:, None, :]).view(e, 3 * s_n),
                (w2[:, :, None] * v).view(e, 3 * v_n),
                w3 * (v * y1[:, None, :]).sum(-1),
            )
            parts = [table.sum(part) for part in edge_parts]
        agg = torch.cat(parts, dim=1)
        return agg * self.scale.to(device=agg.device, dtype=agg.dtype)


class _Interaction(nn.Module):
    """One message-passing layer: uvu tensor product with radial weights, gate, residual."""

    def __init__(self, irreps: o3.Irreps, irreps_sh: o3.Irreps, cfg: EncoderConfig) -> None:
        super().__init__()
        self.lin_in = o3.Linear(irreps, irreps)
        self.tp, irreps_mid = _uvu_tensor_product(irreps, irreps_sh, irreps)
        self.radial = _mlp([cfg.radial_hidden, cfg.radial_hidden, self.tp.weight_numel])
        scalars = o3.Irreps([(mul, ir) for mul, ir in irreps if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in irreps if ir.l > 0])
        self.gate = Gate(
            scalars,
            [nn.functional.silu] * len(scalars),
            o3.Irreps(f"{gated.num_irreps}x0e"),
            [torch.sigmoid],
            gated,
        )
        self.lin_out = o3.Linear(irreps_mid, self.gate.irreps_in)
        self.norm = 1.0 / math.sqrt(cfg.k)
        self.fast_tp = _FastUVU(self.tp) if _FastUVU.supports(self.tp) else None

    def forward(self, h: Tensor, sh: Tensor, edge_emb: Tensor, src: Tensor, table: _NeighbourTable) -> Tensor:
        x = _linear(self.lin_in, h)
        if self.fast_tp is not None:
            agg = self.fast_tp.aggregate(x, sh, self.radial(edge_emb), src, table)
        else:
            agg = table.sum(self.tp(x[src], sh, self.radial(edge_emb)))
        return h + self.gate(_linear(self.lin_out, agg * self.norm))


class Encoder(nn.Module):
    """SE(3)-equivariant GNN on the residue frame graph; one invariant vector per residue.

    See the module docstring for the architecture.

    Parameters
    ----------
    config : EncoderConfig
        Sizes; :data:`ENCODER_PRESETS` holds named ones.

    Examples
    --------
    >>> enc = Encoder(ENCODER_PRESETS["small"])
    >>> z = enc(data)  # doctest: +SKIP
    >>> z.shape  # doctest: +SKIP
    torch.Size([N, 128])
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.irreps_hidden = _hidden_irreps(config)
        self.irreps_sh = o3.Irreps.spherical_harmonics(config.lmax)
        irreps_in = o3.Irreps(f"{config.node_s_dim}x0e + {config.node_v_dim}x1o")
        self.embed = o3.Linear(irreps_in, self.irreps_hidden)
        self.edge_embed = nn.Sequential(nn.Linear(config.edge_s_dim, config.radial_hidden), nn.SiLU())
        self.layers = nn.ModuleList(
            [_Interaction(self.irreps_hidden, self.irreps_sh, config) for _ in range(config.num_layers)]
        )
        n_inv = sum(mul for mul, _ in self.irreps_hidden) + config.node_s_dim
        self.readout = _mlp(
            [n_inv, config.readout_hidden, config.readout_hidden, config.out_dim], config.dropout
        )

    @property
    def out_dim(self) -> int:
        """Size of the output vector per residue."""
        return self.config.out_dim

    def _invariants(self, h: Tensor) -> Tensor:
        """Scalars and per-channel norms of the ``l > 0`` features: (N, sum of multiplicities)."""
        parts = []
        for (mul, ir), sl in zip(self.irreps_hidden, self.irreps_hidden.slices()):
            x = h[:, sl]
            if ir.l == 0:
                parts.append(x)
            else:
                x = x.reshape(-1, mul, ir.dim)
                parts.append(torch.sqrt(x.pow(2).sum(-1) + 1e-8))
        return torch.cat(parts, dim=-1)

    def forward(self, data: Data) -> Tensor:
        """Encode a residue frame graph (``Data`` or ``Batch``).

        Parameters
        ----------
        data : torch_geometric.data.Data or Batch
            Needs ``node_s`` (N, node_s_dim), ``node_v`` (N, node_v_dim, 3), ``node_mask`` (N,) bool,
            ``edge_index`` (2, E) (row 0 source j, row 1 target i), ``edge_vec`` (E, 3), and the raw edge
            geometry ``edge_dist, edge_rot, edge_dir, edge_sep`` of :func:`protok.graph.build_graph`,
            whose edge scalars (:func:`protok.graph.expand_edge_scalars`) enter through the edge
            embedding, computed by :func:`protok.graph.linear_edge_scalars` (an old-style graph that
            stores ``edge_s`` itself is used as is).

        Returns
        -------
        Tensor, shape=(N, out_dim)
            Invariant per-residue vectors, in the dtype of the module's parameters. Rows where
            ``node_mask`` is False are finite and do not affect any other row.
        """
        dtype = self.embed.weight.dtype
        mask = data.node_mask.bool()
        node_s = torch.where(mask[:, None], data.node_s.to(dtype), 0.0)
        node_v = torch.where(mask[:, None, None], data.node_v.to(dtype), 0.0)
        n = node_s.shape[0]
        self._check(node_s, node_v)
        # edge_embed(expand_edge_scalars(data)) without the wide (E, edge_s_dim) matrix, batched
        lin = cast(nn.Linear, self.edge_embed[0])
        edge_emb = self.edge_embed[1](linear_edge_scalars(data, lin.weight, lin.bias))

        src, dst = data.edge_index[0], data.edge_index[1]
        edge_vec = data.edge_vec.to(dtype)
        keep = mask[src] & mask[dst]
        if not bool(keep.all()):  # the graph promises this; enforce it so masked rows stay isolated
            src, dst, edge_emb, edge_vec = src[keep], dst[keep], edge_emb[keep], edge_vec[keep]
        sh = o3.spherical_harmonics(self.irreps_sh, edge_vec, normalize=True, normalization="component")
        table = _NeighbourTable(dst, n)

        h = _linear(self.embed, torch.cat([node_s, node_v.reshape(n, -1)], dim=-1))
        for layer in self.layers:
            h = layer(h, sh, edge_emb, src, table)
        return self.readout(torch.cat([self._invariants(h), node_s], dim=-1))

    def _check(self, node_s: Tensor, node_v: Tensor) -> None:
        cfg = self.config
        if node_s.shape[-1] != cfg.node_s_dim or node_v.shape[1:] != (cfg.node_v_dim, 3):
            raise ConfigError(
                f"Encoder: graph features node_s {tuple(node_s.shape)}, node_v {tuple(node_v.shape)} do not "
                f"match the config (node_s_dim={cfg.node_s_dim}, node_v_dim={cfg.node_v_dim})",
            )

    def extra_repr(self) -> str:
        return f"irreps={self.irreps_hidden}, layers={self.config.num_layers}, out_dim={self.out_dim}"
