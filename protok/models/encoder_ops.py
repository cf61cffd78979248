"""Building blocks of the encoder that both its forms share (:mod:`protok.models.encoder`, with e3nn, and
:mod:`protok.models.encoder_torch`, in plain torch): the inputs computed from a graph, order-fixed neighbour
sums, the hand-written ``lmax = 1`` tensor product and the dense matrices of e3nn's ``o3.Linear``.

Nothing here imports e3nn or torch_geometric.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from protok.errors import ConfigError
from protok.graph.features import OTHER_CHAIN_BUCKET, linear_edge_scalars, separation_bucket
from protok.models.encoder_config import EncoderConfig

__all__ = [
    "EDGE_BLOCK",
    "EncoderInputs",
    "FastUVU",
    "Irreps",
    "NeighbourTable",
    "encoder_inputs",
    "linear_matrix",
    "mlp",
    "node_blocks",
    "o3_linear_matrix",
    "unblocked",
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
    compares the two) but as elementwise products, each summed over in-edges on its own (on the regular
    layout, over the in-edge axis of ``(N, k, ...)`` views, with the vector channels gathered
    component-major so that products run over contiguous channels), with the per-path constants applied
    after the sum, where there are ``k`` times fewer rows. e3nn's generic code path (einsums, a ``cat`` of
    the path outputs, then a gather for the sum) takes 2.9x as long for a 300-residue chain on a CPU
    (``benchmarks/encoder_speed.py``, ``tp_sum`` rows); the edge work is most of the encoder's time.

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
        if table.regular:  # (N, k, ...) views: per-node sums over the in-edge axis, no gather for the sums
            n, k = table.num_nodes, table.width
            xs = _component_major(x, s_n, v_n)[src].view(n, k, -1)
            s, v = xs[..., :s_n], xs[..., s_n:].view(n, k, 3, v_n)
            y1 = sh[:, 1:4].view(n, k, 3)
            w0, w1, w2, w3 = w.view(n, k, -1).split([s_n, s_n, v_n, v_n], dim=-1)
            ws = w1 * s
            dots = (v[:, :, 0] * y1[..., 0:1] + v[:, :, 1] * y1[..., 1:2]) + v[:, :, 2] * y1[..., 2:3]
            parts = [
                (w0 * s).sum(1),
                torch.stack([(ws * y1[..., c : c + 1]).sum(1) for c in range(3)], dim=-1).view(n, 3 * s_n),
                (w2[:, :, None, :] * v).sum(1).transpose(1, 2).reshape(n, 3 * v_n),
                (w3 * dots).sum(1),
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

    def aggregate_radial(
        self, x: Tensor, sh: Tensor, edge_emb: Tensor, radial: nn.Module, src: Tensor, table: NeighbourTable
    ) -> Tensor:
        """``aggregate(x, sh, radial(edge_emb), src, table)`` with the radial MLP computed here, bit for bit.

        Without autograd, on a CPU, for the regular layout and a radial MLP ``Linear, SiLU, Linear``, the
        edges are taken in blocks of whole nodes (about :data:`EDGE_BLOCK` edges each), and each block goes
        through the MLP, the gather of ``x[src]``, the four products and their sums over in-edges while its
        per-edge tensors are still in a core's cache (over all edges at once, each step streams ``(E, C)``
        tensors through memory), into buffers reused from block to block. Each step is the operation
        :meth:`aggregate` runs, on the block's rows and with operands of the same layout (matrix products
        row by row, the same elementwise products, sums over the in-edge axis), so the result has the same
        bits, in float32 and float64 (``tests/models/test_encoder_ops.py``). Anything else runs
        :meth:`aggregate`.
        """
        mlp_layers = _plain_radial(radial)
        plain = not _BLOCKED or torch.is_grad_enabled() or not table.regular or x.device.type != "cpu"
        if plain or mlp_layers is None:
            return self.aggregate(x, sh, radial(edge_emb), src, table)
        lin1, lin2 = mlp_layers
        s_n, v_n = self.n_s, self.n_v
        n, k = table.num_nodes, table.width
        w1, b1, w2, b2 = lin1.weight, lin1.bias, lin2.weight, lin2.bias
        # Elementwise kernels leave the last elements of a tensor that do not fill their vector loop to
        # scalar code, which can round differently; blocks that start at multiples of 64 elements of the
        # hidden layer give their SiLU the same split into vector and scalar parts as one call over all.
        blocks = node_blocks(n, k, EDGE_BLOCK, align=64 // math.gcd(64, k * w1.shape[0]))
        rows = max(stop - start for start, stop in blocks) * k
        new = x.new_empty
        hid, w, xs = new(rows, w1.shape[0]), new(rows, w2.shape[0]), new(rows, x.shape[1])
        prod_s, prod_y, prod_v = new(rows, s_n), new(rows, s_n), new(rows, 3, v_n)
        dots, term = new(rows, v_n), new(rows, v_n)
        p0, p1, p2, p3 = new(n, s_n), new(n, s_n, 3), new(n, 3, v_n), new(n, v_n)
        y1 = sh[:, 1:4].view(n, k, 3)
        xc = _component_major(x, s_n, v_n)
        for start, stop in blocks:
            m, e = stop - start, (stop - start) * k
            edges = slice(start * k, stop * k)
            h = torch.addmm(b1, edge_emb[edges], w1.t(), out=hid[:e])  # what nn.Linear runs
            nn.functional.silu(h, inplace=True)
            wb = torch.addmm(b2, h, w2.t(), out=w[:e]).view(m, k, -1)
            xb = torch.index_select(xc, 0, src[edges], out=xs[:e]).view(m, k, -1)
            s, v, yb = xb[..., :s_n], xb[..., s_n:].view(m, k, 3, v_n), y1[start:stop]
            w0, w1_, w2_, w3 = wb.split([s_n, s_n, v_n, v_n], dim=-1)
            torch.sum(torch.mul(w0, s, out=prod_s[:e].view(m, k, s_n)), 1, out=p0[start:stop])
            ws = torch.mul(w1_, s, out=prod_s[:e].view(m, k, s_n))
            for c in range(3):
                prod = torch.mul(ws, yb[..., c : c + 1], out=prod_y[:e].view(m, k, s_n))
                torch.sum(prod, 1, out=p1[start:stop, :, c])
            wv = prod_v[:e].view(m, k, 3, v_n)
            for c in range(3):  # one product per component: 2x faster than broadcasting w2 over them
                torch.mul(w2_, v[:, :, c], out=wv[:, :, c])
            torch.sum(wv, 1, out=p2[start:stop])
            d = torch.mul(v[:, :, 0], yb[..., 0:1], out=dots[:e].view(m, k, v_n))
            for c in (1, 2):
                d.add_(torch.mul(v[:, :, c], yb[..., c : c + 1], out=term[:e].view(m, k, v_n)))
            torch.sum(torch.mul(w3, d, out=term[:e].view(m, k, v_n)), 1, out=p3[start:stop])
        agg = torch.cat([p0, p1.view(n, 3 * s_n), p2.transpose(1, 2).reshape(n, 3 * v_n), p3], dim=1)
        return agg * self.scale.to(device=agg.device, dtype=agg.dtype)


#: Edges per block of the blocked inference paths (:meth:`FastUVU.aggregate_radial`,
#: :func:`edge_embedding`): a block's per-edge tensors (a few hundred kB to a few MB) stay in a core's cache.
EDGE_BLOCK: int = 4096
#: Whether :meth:`FastUVU.aggregate_radial` may take its blocked path (off inside :func:`unblocked`).
_BLOCKED: bool = True


@contextlib.contextmanager
def unblocked() -> Iterator[None]:
    """Switch the blocked inference paths off inside the ``with`` block: the edge embedding in one block and
    the layers' plain neighbour sums (:meth:`FastUVU.aggregate`). Same bits; the reference that tests and
    speed benchmarks compare the blocked paths with."""
    global EDGE_BLOCK, _BLOCKED
    saved = EDGE_BLOCK, _BLOCKED
    EDGE_BLOCK, _BLOCKED = 1 << 40, False
    try:
        yield
    finally:
        EDGE_BLOCK, _BLOCKED = saved


def node_blocks(num_nodes: int, width: int, edge_block: int, align: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` node ranges of nearly equal size with about ``edge_block`` in-edges each (``width``
    per node), covering ``range(num_nodes)``; every ``start`` a multiple of ``align``; one range when
    everything fits in one block. Equal sizes keep every block's matrix products far from the few-row
    sizes where BLAS switches kernels."""
    per = max(1, edge_block // max(width, 1))
    count = max(1, -(-num_nodes // per))
    bounds = [min(num_nodes, (num_nodes * i // count) // align * align) for i in range(count)] + [num_nodes]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def _component_major(x: Tensor, n_s: int, n_v: int) -> Tensor:
    """Node features ``S x 0e + V x 1o`` (vector channel ``u``, component ``c`` at column ``S + 3u + c``)
    with the vector columns reordered component-major (``S + cV + u``), a copy of ``N`` rows."""
    order = [*range(n_s), *(n_s + 3 * u + c for c in range(3) for u in range(n_v))]
    return x.index_select(1, torch.tensor(order, dtype=torch.long, device=x.device))


def _plain_radial(radial: nn.Module) -> tuple[nn.Linear, nn.Linear] | None:
    """The two linear layers of a radial MLP ``Linear, SiLU, Linear`` (as :func:`mlp` builds it), else None."""
    if not isinstance(radial, nn.Sequential) or len(radial) != 3:
        return None
    lin1, act, lin2 = radial
    if not (isinstance(lin1, nn.Linear) and isinstance(act, nn.SiLU) and isinstance(lin2, nn.Linear)):
        return None
    if lin1.bias is None or lin2.bias is None:
        return None
    return lin1, lin2


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
    act = edge_embed[1]
    if isinstance(act, nn.SiLU) and not torch.is_grad_enabled() and lin.weight.device.type == "cpu":
        # Without autograd on a CPU: in cache-sized blocks with the SiLU applied in place, same bits.
        edge_emb = linear_edge_scalars(
            data, lin.weight, lin.bias, edge_sep=edge_sep, block=EDGE_BLOCK, activation=_silu_
        )
    else:
        edge_emb = act(linear_edge_scalars(data, lin.weight, lin.bias, edge_sep=edge_sep))
    edge_vec = data.edge_vec.to(dtype)
    keep = mask[src] & mask[dst]
    if not bool(keep.all()):
        src, dst, edge_emb, edge_vec = src[keep], dst[keep], edge_emb[keep], edge_vec[keep]
    return EncoderInputs(node_s, node_v, edge_emb, edge_vec, src, dst)


def _silu_(x: Tensor) -> Tensor:
    return nn.functional.silu(x, inplace=True)


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
