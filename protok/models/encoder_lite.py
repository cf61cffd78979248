"""The ``lmax = 1`` encoder for inference, in plain torch (no e3nn, no torch_geometric).

:class:`LiteEncoder` computes the same function as :class:`protok.models.encoder.Encoder` with the same
parameter and buffer names (a checkpoint loads into either). At inference (no autograd, where both apply
e3nn's ``o3.Linear`` as a dense matrix) the outputs are equal bit for bit on a CPU: its dense layers are the
matrices e3nn's ``o3.Linear`` applies (built from the flat weights with e3nn's instruction order and path
weights), its tensor product is :class:`FastUVU` (which the e3nn encoder uses too), and its gate is e3nn's
``Gate`` written out (SiLU and sigmoid rescaled by e3nn's second-moment constants, on contiguous copies as
e3nn cuts them, and the gated product as e3nn's generated code computes it). With autograd the e3nn encoder
runs e3nn's own ``Linear`` code, so the two agree only to float rounding (gradients included).
``tests/models/test_encoder_lite.py`` checks all of it against the e3nn encoder. CUDA is not tested here.

Why a second form: importing e3nn costs about 2 s per process (it pulls in ``torch._dynamo``), and building
its modules another 0.5 s; for ``protok tokenize`` on a CPU, where every worker process loads a model, that
is a large part of a run (``benchmarks/tokenize_speed.py``). Training, ``lmax = 2`` models and anything that
needs e3nn's modules use :class:`~protok.models.encoder.Encoder`; :func:`protok.models.load_model` picks
this form only when asked for inference (``inference=True``, as :func:`protok.tokenizer.load` does).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from protok.errors import ConfigError
from protok.graph.features import OTHER_CHAIN_BUCKET, linear_edge_scalars, separation_bucket
from protok.models.encoder_config import EncoderConfig

__all__ = [
    "EncoderInputs",
    "FastUVU",
    "LiteEncoder",
    "NeighbourTable",
    "encoder_inputs",
    "linear_matrix",
    "mlp",
    "o3_linear_matrix",
]

#: An irreps list as ``(multiplicity, l)`` or ``(multiplicity, l, parity)`` entries.
Irreps = Sequence[tuple[int, ...]]


class NeighbourTable:
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


class FastUVU:
    """The ``lmax = 1`` channel-wise tensor product of the encoder, summed over in-edges.

    Computes exactly the function of e3nn's ``o3.TensorProduct`` for input ``S x 0e + V x 1o`` times
    ``Y = (Y0, Y1)`` (``0e + 1o``) with ``uvu`` paths and external per-edge weights (same weight layout, same
    path weights and Wigner-3j factors, so checkpoints are interchangeable; ``tests/models/test_encoder.py``
    compares the two) but as four broadcast products, each summed over in-edges on its own (batched matrix
    products on the regular layout), with the per-path constants applied after the sum, where there are
    ``k`` times fewer rows. e3nn's generic code path (einsums, a ``cat`` of the path outputs, then a gather
    for the sum) takes 2.9x as long for a 300-residue chain on a CPU (``benchmarks/encoder_speed.py``,
    ``tp_sum`` rows); the edge work is most of the encoder's time.

    Paths, in e3nn's instruction order: ``0e x 0e -> 0e`` (``w u Y0``), ``0e x 1o -> 1o`` (``w u Y1 / sqrt 3``),
    ``1o x 0e -> 1o`` (``w v Y0 / sqrt 3``), ``1o x 1o -> 0e`` (``w (v . Y1) / sqrt 3``), each times the path
    weight e3nn gives it ("component" irrep and "element" path normalisation: ``sqrt(dim out)``, as each
    output block has one path of one weight per channel).

    Parameters
    ----------
    n_s, n_v : int
        Scalar and vector channels ``S`` and ``V``.
    path_weights : sequence of 4 float, optional
        e3nn's path weights of the four paths (default: the ones e3nn computes for this product).
    """

    #: ``(l_in, l_sh, l_out)`` of the four paths, in e3nn's instruction order.
    PATHS = ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))

    def __init__(self, n_s: int, n_v: int, path_weights: Sequence[float] | None = None) -> None:
        self.n_s, self.n_v = n_s, n_v
        if path_weights is None:
            path_weights = [math.sqrt(2.0 * l_out + 1.0) for _, _, l_out in self.PATHS]
        scale = []
        for w, (l1, l2, l3) in zip(path_weights, self.PATHS, strict=True):
            factor = 1.0 if (l1, l2, l3) == (0, 0, 0) else 1.0 / math.sqrt(3.0)
            mul = n_s if l1 == 0 else n_v
            scale.append(torch.full(((2 * l3 + 1) * mul,), w * factor))
        self.scale = torch.cat(scale)

    def aggregate(self, x: Tensor, sh: Tensor, w: Tensor, src: Tensor, table: NeighbourTable) -> Tensor:
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


def o3_linear_matrix(irreps_in: Irreps, irreps_out: Irreps, weight: Tensor) -> Tensor:
    """The dense ``(dim in, dim out)`` matrix of e3nn's ``o3.Linear(irreps_in, irreps_out)`` (no bias).

    e3nn's default instructions connect every input block to every output block of the same irrep (here:
    equal entries but for the multiplicity), in input-then-output order; each takes ``mul_in x mul_out`` of
    the flat ``weight`` and is scaled by ``x ** -0.5``, ``x`` the summed input multiplicity of its output
    block ("element" normalisation). Features are laid out multiplicity-major (``u * (2l + 1) + m``). The
    result equals ``lin(torch.eye(dim in))`` bit for bit.
    """

    def offsets(irreps: Irreps) -> list[int]:
        out, pos = [], 0
        for mul, deg, *_ in irreps:
            out.append(pos)
            pos += mul * (2 * deg + 1)
        return [*out, pos]

    off_in, off_out = offsets(irreps_in), offsets(irreps_out)
    pairs = [
        (i, j)
        for i, ir_in in enumerate(irreps_in)
        for j, ir_out in enumerate(irreps_out)
        if tuple(ir_in[1:]) == tuple(ir_out[1:])
    ]
    fan_in = {j: sum(irreps_in[i][0] for i, jj in pairs if jj == j) for j in range(len(irreps_out))}
    need = sum(irreps_in[i][0] * irreps_out[j][0] for i, j in pairs)
    if weight.numel() != need:
        raise ValueError(f"o3_linear_matrix: weight has {weight.numel()} values, the irreps need {need}")
    m = weight.new_zeros(off_in[-1], off_out[-1])
    pos = 0
    for i, j in pairs:
        mul_in, deg, mul_out = irreps_in[i][0], irreps_in[i][1], irreps_out[j][0]
        w = weight[pos : pos + mul_in * mul_out].view(mul_in, mul_out)
        pos += mul_in * mul_out
        d = 2 * deg + 1
        block = m[off_in[i] : off_in[i + 1], off_out[j] : off_out[j + 1]].view(mul_in, d, mul_out, d)
        scaled = fan_in[j] ** (-0.5) * w
        for c in range(d):
            block[:, c, :, c] = scaled
    return m


def linear_matrix(
    holder: nn.Module, weight: Tensor, irreps_in: Irreps, irreps_out: Irreps, like: Tensor
) -> Tensor:
    """:func:`o3_linear_matrix` of ``weight`` in the dtype and on the device of ``like``.

    Without autograd the matrix is cached on ``holder`` (a plain attribute: not a buffer, not saved) per
    weight version, so inference builds it once per weight update. Inference tensors have no version
    counter: the matrix is then built on every call.
    """
    if torch.is_grad_enabled() or weight.is_inference():
        return o3_linear_matrix(irreps_in, irreps_out, weight.to(like.dtype)).to(like.device)
    key = (weight._version, weight.data_ptr(), like.dtype, like.device)
    cached = holder.__dict__.get("_protok_dense")
    if cached is None or cached[0] != key:
        matrix = o3_linear_matrix(irreps_in, irreps_out, weight.detach().to(like.dtype)).to(like.device)
        cached = (key, matrix)
        object.__setattr__(holder, "_protok_dense", cached)
    return cast(Tensor, cached[1])


@dataclass
class EncoderInputs:
    """What both encoder forms compute from a graph before their layers (see :func:`encoder_inputs`)."""

    node_s: Tensor  # (N, node_s_dim), zero where node_mask is False
    node_v: Tensor  # (N, node_v_dim, 3), zero where node_mask is False
    edge_emb: Tensor  # (E', radial_hidden): SiLU(Linear(edge scalars)), edges between valid nodes only
    edge_vec: Tensor  # (E', 3)
    src: Tensor  # (E',) source j
    dst: Tensor  # (E',) target i


def encoder_inputs(
    data: Any, config: EncoderConfig, edge_embed: nn.Sequential, dtype: torch.dtype
) -> EncoderInputs:
    """Masked node features, the shared edge embedding and the edges the layers use, in ``dtype``.

    The edge embedding is ``edge_embed(expand_edge_scalars(data))`` computed without the wide
    ``(E, edge_s_dim)`` matrix (:func:`protok.graph.linear_edge_scalars`). Edges touching a masked node are
    dropped: the graph promises there are none; this enforces it so masked rows stay isolated.

    Raises
    ------
    ConfigError
        The graph's feature sizes do not match ``config``.
    """
    mask = data.node_mask.bool()
    node_s = torch.where(mask[:, None], data.node_s.to(dtype), 0.0)
    node_v = torch.where(mask[:, None, None], data.node_v.to(dtype), 0.0)
    if node_s.shape[-1] != config.node_s_dim or node_v.shape[1:] != (config.node_v_dim, 3):
        raise ConfigError(
            f"Encoder: graph features node_s {tuple(node_s.shape)}, node_v {tuple(node_v.shape)} do not "
            f"match the config (node_s_dim={config.node_s_dim}, node_v_dim={config.node_v_dim})",
        )
    lin = cast(nn.Linear, edge_embed[0])
    src, dst = data.edge_index[0], data.edge_index[1]
    edge_sep = None
    if config.separation != "clip32":
        ri = data.residue_idx
        same = data.edge_sep != OTHER_CHAIN_BUCKET
        edge_sep = separation_bucket(ri[src] - ri[dst], same, config.separation)
    edge_emb = edge_embed[1](linear_edge_scalars(data, lin.weight, lin.bias, edge_sep=edge_sep))
    edge_vec = data.edge_vec.to(dtype)
    keep = mask[src] & mask[dst]
    if not bool(keep.all()):
        src, dst, edge_emb, edge_vec = src[keep], dst[keep], edge_emb[keep], edge_vec[keep]
    return EncoderInputs(node_s, node_v, edge_emb, edge_vec, src, dst)


def mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    """``Linear`` layers of ``sizes`` with SiLU (and dropout, when > 0) between them."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _moment2_scale(f: Any) -> float:
    """e3nn's ``normalize2mom`` constant for ``f``: ``E[f(z)^2] ** -0.5``, z the same 10^6 normal samples."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(1_000_000, generator=gen, dtype=torch.float64)
    return float(f(z).pow(2).mean().pow(-0.5).item())


@functools.cache
def _gate_scales() -> tuple[float, float]:
    """e3nn's constants for the gate's SiLU and sigmoid, computed once per process (not stored on modules,
    so a pickled encoder works in a fresh process)."""
    return _moment2_scale(nn.functional.silu), _moment2_scale(torch.sigmoid)


class _Weights(nn.Module):
    """Holds an e3nn module's flat ``weight`` and the buffers e3nn saves with it (same names and shapes)."""

    def __init__(self, weight: int | None, buffers: dict[str, int]) -> None:
        super().__init__()
        if weight is not None:  # e3nn's initialisation: unit normal (path weights do the scaling)
            self.weight = nn.Parameter(torch.randn(weight))
        for name, size in buffers.items():
            self.register_buffer(name, torch.zeros(size) if name != "output_mask" else torch.ones(size))


class _Layer(nn.Module):
    def __init__(self, cfg: EncoderConfig, hidden: list[tuple[int, int]]) -> None:
        super().__init__()
        s, v = cfg.scalar_channels, cfg.vector_channels
        dim = s + 3 * v
        self.hidden = hidden
        # Output irreps of the tensor product (unsimplified, e3nn's path order) and the gate's input.
        self.mid = [(s, 0), (s, 1), (v, 1), (v, 0)]
        self.gate_in = [(s + v, 0), (v, 1)]
        self.lin_in = _Weights(s * s + v * v, {"bias": 0, "output_mask": dim})
        self.tp = _Weights(None, {"weight": 0, "output_mask": 4 * s + 4 * v})
        self.radial = nn.Sequential(
            nn.Linear(cfg.radial_hidden, cfg.radial_hidden),
            nn.SiLU(),
            nn.Linear(cfg.radial_hidden, 2 * (s + v)),
        )
        self.gate = nn.Module()
        self.gate.mul = _Weights(None, {"weight": 0, "output_mask": 3 * v})
        self.lin_out = _Weights((s + v) * (s + v) + (s + v) * v, {"bias": 0, "output_mask": s + v + 3 * v})
        self.norm = 1.0 / math.sqrt(cfg.k)
        self.fast_tp = FastUVU(s, v)


class LiteEncoder(nn.Module):
    """:class:`~protok.models.encoder.Encoder` with ``lmax = 1``, for inference, without e3nn.

    Parameters
    ----------
    config : EncoderConfig
        Must have ``lmax == 1`` (:meth:`supports`).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if not self.supports(config):
            raise ValueError(f"LiteEncoder needs lmax = 1, got lmax = {config.lmax}")
        self.config = config
        s, v = config.scalar_channels, config.vector_channels
        self.irreps_hidden = [(s, 0), (v, 1)]
        self.irreps_in = [(config.node_s_dim, 0), (config.node_v_dim, 1)]
        n_w = config.node_s_dim * s + config.node_v_dim * v
        self.embed = _Weights(n_w, {"bias": 0, "output_mask": s + 3 * v})
        self.edge_embed = nn.Sequential(nn.Linear(config.edge_s_dim, config.radial_hidden), nn.SiLU())
        self.layers = nn.ModuleList([_Layer(config, self.irreps_hidden) for _ in range(config.num_layers)])
        n_inv = s + v + config.node_s_dim
        self.readout = mlp(
            [n_inv, config.readout_hidden, config.readout_hidden, config.out_dim], config.dropout
        )

    @staticmethod
    def supports(config: EncoderConfig) -> bool:
        """True when this form can run ``config`` (``lmax == 1``)."""
        return config.lmax == 1

    @property
    def out_dim(self) -> int:
        """Size of the output vector per residue."""
        return self.config.out_dim

    def _gate(self, x: Tensor) -> Tensor:
        """e3nn's ``Gate``: SiLU on the scalars, sigmoid gates times the vectors (e3nn's constants, order)."""
        s, v = self.config.scalar_channels, self.config.vector_channels
        # e3nn cuts the input into contiguous copies; elementwise kernels can round differently on strided
        # views (sigmoid does), so the copies matter for equal bits.
        silu_scale, sigmoid_scale = _gate_scales()
        scalars = nn.functional.silu(x[:, :s].contiguous()).mul(silu_scale)
        gates = torch.sigmoid(x[:, s : s + v].contiguous()).mul(sigmoid_scale)
        gated = x[:, s + v :].contiguous().view(-1, v, 3)
        # e3nn's 1o x 0e -> 1o product: its 1/sqrt(3) and path weight sqrt(3) cancel in its generated code.
        return torch.cat([scalars, (gates[:, :, None] * gated).view(-1, 3 * v)], dim=-1)

    def forward(self, data: Any) -> Tensor:
        """Encode a residue frame graph; see :meth:`protok.models.encoder.Encoder.forward` (same fields,
        same result). ``data`` is anything with those attributes: a torch_geometric ``Data``/``Batch`` or
        a :class:`protok.graph.GraphBatch`."""
        cfg = self.config
        inp = encoder_inputs(data, cfg, self.edge_embed, self.embed.weight.dtype)
        node_s, n = inp.node_s, inp.node_s.shape[0]
        unit = nn.functional.normalize(inp.edge_vec, dim=-1)
        sh = torch.stack(
            [
                torch.ones_like(unit[:, 0]),
                math.sqrt(3) * unit[:, 0],
                math.sqrt(3) * unit[:, 1],
                math.sqrt(3) * unit[:, 2],
            ],
            dim=-1,
        )
        src, edge_emb = inp.src, inp.edge_emb
        table = NeighbourTable(inp.dst, n)
        x0 = torch.cat([node_s, inp.node_v.reshape(n, -1)], dim=-1)
        h = x0 @ linear_matrix(self.embed, self.embed.weight, self.irreps_in, self.irreps_hidden, x0)
        for layer in cast(Sequence[_Layer], self.layers):
            x = h @ linear_matrix(layer.lin_in, layer.lin_in.weight, layer.hidden, layer.hidden, h)
            agg = layer.fast_tp.aggregate(x, sh, layer.radial(edge_emb), src, table)
            mid = agg * layer.norm
            h = h + self._gate(
                mid @ linear_matrix(layer.lin_out, layer.lin_out.weight, layer.mid, layer.gate_in, mid)
            )
        s, v = cfg.scalar_channels, cfg.vector_channels
        vec = h[:, s:].reshape(-1, v, 3)
        inv = torch.cat([h[:, :s], torch.sqrt(vec.pow(2).sum(-1) + 1e-8)], dim=-1)
        return cast(Tensor, self.readout(torch.cat([inv, node_s], dim=-1)))

    def extra_repr(self) -> str:
        s, v = self.config.scalar_channels, self.config.vector_channels
        return f"irreps={s}x0e+{v}x1o (no e3nn), layers={self.config.num_layers}, out_dim={self.out_dim}"
