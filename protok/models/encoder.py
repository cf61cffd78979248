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

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import Tensor, nn
from torch_geometric.data import Data

from protok.models.encoder_config import ENCODER_PRESETS, EncoderConfig
from protok.models.encoder_ops import FastUVU, NeighbourTable, encoder_inputs, linear_matrix, mlp

__all__ = ["ENCODER_PRESETS", "Encoder", "EncoderConfig"]


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


def _linear(lin: o3.Linear, x: Tensor) -> Tensor:
    """``lin(x)``; without autograd, as one dense product with its matrix.

    An ``o3.Linear`` is a block-sparse matrix applied by a dozen small einsums; its matrix
    (:func:`~protok.models.encoder_ops.linear_matrix`, bit-equal to ``lin(I)``) does the same in one
    product, which is several times faster on CPU batches. With autograd (training) e3nn's own code runs.
    Equal up to float rounding (the summation order differs).
    """
    if torch.is_grad_enabled() or lin.bias.numel() or not x.is_floating_point():
        return lin(x)
    irreps_in = [(mul, ir.l, ir.p) for mul, ir in lin.irreps_in]
    irreps_out = [(mul, ir.l, ir.p) for mul, ir in lin.irreps_out]
    return x @ linear_matrix(lin, lin.weight, irreps_in, irreps_out, x)


def _fast_uvu(tp: o3.TensorProduct) -> FastUVU | None:
    """:class:`~protok.models.encoder_ops.FastUVU` for ``tp`` when it has exactly that layout
    (``S x 0e + V x 1o`` times ``0e + 1o``, the four ``uvu`` paths in order), else None."""
    ir_in = [(mul, str(ir)) for mul, ir in tp.irreps_in1]
    if len(ir_in) != 2 or ir_in[0][1] != "0e" or ir_in[1][1] != "1o":
        return None
    if [str(ir) for _, ir in tp.irreps_in2] != ["0e", "1o"] or [mul for mul, _ in tp.irreps_in2] != [1, 1]:
        return None
    paths = [
        (
            tp.irreps_in1[i.i_in1].ir.l,
            tp.irreps_in2[i.i_in2].ir.l,
            tp.irreps_out[i.i_out].ir.l,
            i.connection_mode,
        )
        for i in tp.instructions
    ]
    if paths != [(*p, "uvu") for p in FastUVU.PATHS]:
        return None
    return FastUVU(ir_in[0][0], ir_in[1][0], [ins.path_weight for ins in tp.instructions])


class _Interaction(nn.Module):
    """One message-passing layer: uvu tensor product with radial weights, gate, residual."""

    def __init__(self, irreps: o3.Irreps, irreps_sh: o3.Irreps, cfg: EncoderConfig) -> None:
        super().__init__()
        self.lin_in = o3.Linear(irreps, irreps)
        self.tp, irreps_mid = _uvu_tensor_product(irreps, irreps_sh, irreps)
        self.radial = mlp([cfg.radial_hidden, cfg.radial_hidden, self.tp.weight_numel])
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
        self.fast_tp = _fast_uvu(self.tp)

    def forward(self, h: Tensor, sh: Tensor, edge_emb: Tensor, src: Tensor, table: NeighbourTable) -> Tensor:
        x = _linear(self.lin_in, h)
        if self.fast_tp is not None:
            agg = self.fast_tp.aggregate_radial(x, sh, edge_emb, self.radial, src, table)
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
        self.readout = mlp(
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
        inp = encoder_inputs(data, self.config, self.edge_embed, self.embed.weight.dtype)
        node_s, n = inp.node_s, inp.node_s.shape[0]
        sh = o3.spherical_harmonics(self.irreps_sh, inp.edge_vec, normalize=True, normalization="component")
        table = NeighbourTable(inp.dst, n)

        h = _linear(self.embed, torch.cat([node_s, inp.node_v.reshape(n, -1)], dim=-1))
        for layer in self.layers:
            h = layer(h, sh, inp.edge_emb, inp.src, table)
        return self.readout(torch.cat([self._invariants(h), node_s], dim=-1))

    def extra_repr(self) -> str:
        return f"irreps={self.irreps_hidden}, layers={self.config.num_layers}, out_dim={self.out_dim}"
