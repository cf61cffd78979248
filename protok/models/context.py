"""Chain context before quantization: a few transformer layers over every residue of a complex.

The GNN encoder sees each residue's k nearest neighbours only. :class:`ChainContext` lets every residue's
vector take in the rest of its complex before it is quantized (as GCP-VQVAE's transformer after its GNN
does), so one token can say where in the fold its residue sits. Its inputs are the encoder's invariant
vectors and the residue layout (positions, chains, breaks: the decoder's relative-position buckets as a
learned per-head attention bias), so the tokens stay exactly invariant to rigid motions. Residues without
a frame (``node_mask`` False) are neither attended to nor changed.
"""

from __future__ import annotations

from torch import Tensor, nn

from protok.models.decoder import _Block, relative_position_buckets
from protok.models.dense import to_dense

__all__ = ["ChainContext"]


class ChainContext(nn.Module):
    """Pre-LN transformer layers over each complex, residual, with a relative-position bias.

    Parameters
    ----------
    dim : int
        Width of the vectors (the encoder's ``out_dim``).
    n_layers, n_heads : int
    rel_pos_clip : int
        Residue-index differences clip to ``[-rel_pos_clip, rel_pos_clip]`` within a segment.
    """

    def __init__(self, dim: int, n_layers: int, n_heads: int, rel_pos_clip: int = 32) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"context width {dim} not divisible by {n_heads} heads")
        self.n_heads = n_heads
        self.rel_pos_clip = rel_pos_clip
        self.rel_bias = nn.Embedding(2 * rel_pos_clip + 3, n_heads * n_layers)
        nn.init.zeros_(self.rel_bias.weight)
        self.blocks = nn.ModuleList(_Block(dim, n_heads, 4, 0.0) for _ in range(n_layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, data: object) -> Tensor:
        """Contextualise the flat vectors ``x`` (N, dim) of a graph batch ``data`` (needs ``node_mask``,
        ``residue_idx``, ``chain_idx``, ``chain_break`` and, for several complexes, ``batch``)."""
        batch = getattr(data, "batch", None)
        node_mask = data.node_mask.bool()  # type: ignore[attr-defined]
        h, pad = to_dense(x, batch)
        ri, _ = to_dense(data.residue_idx.long(), batch)  # type: ignore[attr-defined]
        ci, _ = to_dense(data.chain_idx.long(), batch)  # type: ignore[attr-defined]
        cb, _ = to_dense(data.chain_break.bool(), batch)  # type: ignore[attr-defined]
        valid, _ = to_dense(node_mask, batch)
        buckets = relative_position_buckets(ri, ci, cb, self.rel_pos_clip)
        bias = self.rel_bias(buckets).permute(0, 3, 1, 2).to(h.dtype)
        key_pad = h.new_zeros(h.shape[0], 1, 1, h.shape[1]).masked_fill(~valid[:, None, None, :], -1e9)
        biases = (bias + key_pad).split(self.n_heads, dim=1)
        for block, b in zip(self.blocks, biases, strict=True):
            h = block(h, b)
        out = self.norm(h)[pad]
        return out.where(node_mask[:, None], x)
