"""The encoder in plain torch (no e3nn, no torch_geometric), for inference with ``lmax = 1`` models.

:class:`PlainTorchEncoder` is the model of :class:`protok.models.encoder.Encoder`, not a smaller one: the same
function with the same parameter and buffer names (a checkpoint loads into either). At inference (no
autograd, where both apply e3nn's ``o3.Linear`` as a dense matrix) the outputs are equal bit for bit on a
CPU: its dense layers are the matrices e3nn's ``o3.Linear`` applies (built from the flat weights with e3nn's
instruction order and path weights, :func:`~protok.models.encoder_ops.linear_matrix`), its tensor product is
:class:`~protok.models.encoder_ops.FastUVU` (which the e3nn encoder uses too), and its gate is e3nn's
``Gate`` written out (SiLU and sigmoid rescaled by e3nn's second-moment constants, on contiguous copies as
e3nn cuts them, and the gated product as e3nn's generated code computes it). With autograd the e3nn encoder
runs e3nn's own ``Linear`` code, so the two agree only to float rounding (gradients included).
``tests/models/test_encoder_torch.py`` checks all of it against the e3nn encoder. CUDA is not tested here.

Why a second form: importing e3nn costs about 2 s per process (it pulls in ``torch._dynamo``), and building
its modules another 0.5 s; for ``protok tokenize`` on a CPU, where every worker process loads a model, that
is a large part of a run (``benchmarks/tokenize_speed.py``). Training, ``lmax = 2`` models and anything that
needs e3nn's modules use :class:`~protok.models.encoder.Encoder`; :func:`protok.models.load_model` picks
this form only when asked for inference (``inference=True``, as :func:`protok.tokenizer.load` does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from protok.models.encoder_config import EncoderConfig
from protok.models.encoder_ops import FastUVU, NeighbourTable, encoder_inputs, linear_matrix, mlp

__all__ = ["PlainTorchEncoder"]


#: e3nn's constants for the gate's SiLU and sigmoid: ``E[f(z)^2] ** -0.5`` over its 10^6 seeded normal
#: samples (``e3nn.math.normalize2mom(f).cst``, exactly; the tests compare). Written out because computing
#: them costs 60 ms in every process that loads a model.
_SILU_SCALE: float = float.fromhex("0x1.adde87bf8e3e3p+0")  # 1.6791767923989418
_SIGMOID_SCALE: float = float.fromhex("0x1.d8c1b1a2cc34cp+0")  # 1.8467055342154763


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


class PlainTorchEncoder(nn.Module):
    """The model of :class:`~protok.models.encoder.Encoder` (``lmax = 1``) in plain torch, for inference.

    Parameters
    ----------
    config : EncoderConfig
        Must have ``lmax == 1`` (:meth:`supports`).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if not self.supports(config):
            raise ValueError(f"PlainTorchEncoder needs lmax = 1, got lmax = {config.lmax}")
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
        scalars = nn.functional.silu(x[:, :s].contiguous()).mul(_SILU_SCALE)
        gates = torch.sigmoid(x[:, s : s + v].contiguous()).mul(_SIGMOID_SCALE)
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
            agg = layer.fast_tp.aggregate_radial(x, sh, edge_emb, layer.radial, src, table)
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
