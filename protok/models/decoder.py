"""Backbone decoder: code vectors + residue/chain indices -> backbone N, CA, C, O coordinates.

The decoder never sees input coordinates. A pre-LayerNorm transformer trunk attends over all residues of
a complex with a learned per-head relative-position bias; the bias buckets are

* ``clip(j - i, -rel_pos_clip, rel_pos_clip)`` for two residues of the same contiguous *segment*
  (same chain, no chain break between them),
* one bucket for "same chain, across a chain break" (the index difference is unreliable there),
* one bucket for "different chains".

Relative positions clip, so any length decodes with the same parameters; ``max_length`` (default None =
no limit) makes longer inputs raise :class:`protok.errors.ChainTooLongError` instead.

A structure head predicts one rigid frame per residue in a common (arbitrary) global frame: the rotation
from two vectors by Gram-Schmidt (columns = local x, y, z axes, x along CA->C, N in the xy-plane, the
convention of ``protok.graph``), the translation (= CA) directly, and the O atom from a predicted unit
vector at the C atom. N, CA, C are placed from ideal local geometry. Optionally ``n_refine`` frame-update
iterations (an "IPA-lite" block: attention biased by current CA distances, frames updated in their own
local coordinates) refine the frames. A distogram head (pair logits, ``n_dist_bins`` bins) is computed only
when asked for (training); inference stays at O(L) memory apart from the attention itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from protok._precision import full_precision
from protok.errors import ChainTooLongError

__all__ = [
    "IDEAL_BACKBONE_LOCAL",
    "Decoder",
    "DecoderConfig",
    "DecoderOutput",
    "frames_to_backbone",
    "gram_schmidt",
    "pair_features",
    "relative_position_buckets",
    "segment_ids",
    "sinusoidal_features",
]

#: Ideal N, CA, C positions (Å) in the residue frame (x along CA->C, N in the xy-plane; AlphaFold2's
#: rigid-group constants for the backbone frame).
IDEAL_BACKBONE_LOCAL: tuple[tuple[float, float, float], ...] = (
    (-0.525, 1.363, 0.0),
    (0.0, 0.0, 0.0),
    (1.526, 0.0, 0.0),
)
#: C=O bond length (Å).
CO_BOND: float = 1.231
#: Initial O direction at C in the local frame (roughly the trans-peptide position).
_O_DIR_INIT: tuple[float, float, float] = (0.51, -0.86, 0.0)


@dataclass(frozen=True)
class DecoderConfig:
    """Decoder hyper-parameters.

    Attributes
    ----------
    input_dim : int
        D, dimension of the code vectors it reads.
    d_model : int
        Trunk width.
    n_layers, n_heads : int
        Transformer depth and heads (``d_model % n_heads == 0``).
    ffn_mult : int
        Feed-forward hidden size = ``ffn_mult * d_model``.
    dropout : float
    rel_pos_clip : int
        Residue-index differences are clipped to ``[-rel_pos_clip, rel_pos_clip]``.
    pos_features : int
        Sinusoidal features of the residue index added to the input (even; 0 = none). Without them,
        residues with equal codes (a long helix) would get equal outputs: attention biases alone cannot
        break that symmetry. Sinusoids extrapolate, so they impose no length limit.
    n_refine : int
        IPA-lite frame refinement iterations after the trunk (0 = none).
    trans_scale : float
        Translations are predicted in units of ``trans_scale`` Å.
    pair_dim : int
        Width of the distogram head's pair features.
    n_dist_bins : int
        Distogram bins (CA-CA distance); the first and last are open-ended.
    dist_min, dist_max : float
        Range of the inner bin edges (Å).
    max_length : int or None
        Refuse complexes longer than this (:class:`ChainTooLongError`); None = no limit.
    pair_bias : bool
        Pair-aware trunk: after the first half of the layers, pair features of the residues (as the
        distogram head builds them) give every later layer and refinement step an extra attention bias,
        so the second half attends by predicted contacts, not only by sequence position.
    """

    input_dim: int = 128
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    ffn_mult: int = 4
    dropout: float = 0.0
    rel_pos_clip: int = 32
    pos_features: int = 64
    n_refine: int = 2
    trans_scale: float = 10.0
    pair_dim: int = 32
    n_dist_bins: int = 64
    dist_min: float = 2.3125
    dist_max: float = 21.6875
    max_length: int | None = None
    pair_bias: bool = False

    @property
    def n_rel_buckets(self) -> int:
        return 2 * self.rel_pos_clip + 3


@dataclass
class DecoderOutput:
    """What the decoder returns (dense, padded).

    Attributes
    ----------
    coords : Tensor, shape=(B, L, 4, 3)
        Backbone N, CA, C, O in Å (padding rows are meaningless).
    rotation : Tensor, shape=(B, L, 3, 3)
        Residue frames (columns = local axes in global coordinates).
    translation : Tensor, shape=(B, L, 3)
        Frame origins (= CA).
    single : Tensor, shape=(B, L, d_model)
        Final per-residue features.
    distogram_logits : Tensor, shape=(B, L, L, n_dist_bins) or None
        Only when requested.
    """

    coords: Tensor
    rotation: Tensor
    translation: Tensor
    single: Tensor
    distogram_logits: Tensor | None = None


def segment_ids(chain_idx: Tensor, chain_break: Tensor) -> Tensor:
    """Number contiguous segments: a new one starts at every chain break or chain change.

    Parameters
    ----------
    chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool

    Returns
    -------
    Tensor, shape=(B, L), dtype=long
    """
    change = torch.zeros_like(chain_break, dtype=torch.bool)
    change[:, 1:] = chain_idx[:, 1:] != chain_idx[:, :-1]
    starts = chain_break.to(torch.bool) | change
    starts[:, 0] = False
    return torch.cumsum(starts.to(torch.long), dim=1)


def relative_position_buckets(
    residue_idx: Tensor, chain_idx: Tensor, chain_break: Tensor, clip: int
) -> Tensor:
    """Relative-position bucket of every residue pair.

    Parameters
    ----------
    residue_idx, chain_idx : Tensor, shape=(B, L), dtype=long
    chain_break : Tensor, shape=(B, L), dtype=bool
    clip : int

    Returns
    -------
    Tensor, shape=(B, L, L), dtype=long
        ``clip(j - i) + clip`` in ``[0, 2*clip]`` within a segment; ``2*clip + 1`` same chain across a
        break; ``2*clip + 2`` different chains.
    """
    seg = segment_ids(chain_idx, chain_break)
    diff = (residue_idx[:, None, :] - residue_idx[:, :, None]).clamp(-clip, clip) + clip
    same_chain = chain_idx[:, :, None] == chain_idx[:, None, :]
    same_seg = seg[:, :, None] == seg[:, None, :]
    out = torch.where(same_seg, diff, torch.full_like(diff, 2 * clip + 1))
    return torch.where(same_chain, out, torch.full_like(diff, 2 * clip + 2))


def sinusoidal_features(positions: Tensor, n_features: int, max_period: float = 10000.0) -> Tensor:
    """sin/cos features of integer positions, shape (..., n_features) (``n_features`` even)."""
    half = n_features // 2
    freqs = torch.exp(
        -torch.log(torch.tensor(max_period))
        * torch.arange(half, device=positions.device, dtype=torch.float32)
        / half
    )
    ang = positions.to(torch.float32)[..., None] * freqs
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


def gram_schmidt(v1: Tensor, v2: Tensor, eps: float = 1e-8) -> Tensor:
    """Rotation matrices from two vectors: x = v1/|v1|, y = v2 orthogonalised against x, z = x cross y.

    Parameters
    ----------
    v1, v2 : Tensor, shape=(..., 3)

    Returns
    -------
    Tensor, shape=(..., 3, 3)
        Columns are the x, y, z axes.
    """
    e1 = v1 / (v1.norm(dim=-1, keepdim=True) + eps)
    u2 = v2 - (e1 * v2).sum(-1, keepdim=True) * e1
    e2 = u2 / (u2.norm(dim=-1, keepdim=True) + eps)
    e3 = torch.cross(e1, e2, dim=-1)
    return torch.stack([e1, e2, e3], dim=-1)


def frames_to_backbone(rotation: Tensor, translation: Tensor, o_dir_local: Tensor) -> Tensor:
    """Place N, CA, C (ideal) and O (``CO_BOND`` from C along a local direction) for each frame.

    Parameters
    ----------
    rotation : Tensor, shape=(..., 3, 3)
    translation : Tensor, shape=(..., 3)
    o_dir_local : Tensor, shape=(..., 3)
        Direction of C->O in the local frame (normalised here).

    Returns
    -------
    Tensor, shape=(..., 4, 3)
    """
    ideal = torch.tensor(IDEAL_BACKBONE_LOCAL, dtype=rotation.dtype, device=rotation.device)
    o_dir = o_dir_local / (o_dir_local.norm(dim=-1, keepdim=True) + 1e-8)
    o_local = ideal[2] + CO_BOND * o_dir  # (..., 3)
    local = torch.cat([ideal.expand(*o_local.shape[:-1], 3, 3), o_local[..., None, :]], dim=-2)
    return torch.einsum("...ij,...aj->...ai", rotation, local) + translation[..., None, :]


class _Block(nn.Module):
    """Pre-LN transformer block with an additive attention bias."""

    def __init__(self, d_model: int, n_heads: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, ffn_mult * d_model),
            nn.GELU(),
            nn.Linear(ffn_mult * d_model, d_model),
        )
        self.dropout = nn.Dropout(dropout)
        self.p_attn = dropout

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.n_heads, d // self.n_heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, L, dh)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.p_attn if self.training else 0.0
        )
        x = x + self.dropout(self.out(a.transpose(1, 2).reshape(b, n, d)))
        return x + self.dropout(self.ffn(self.norm2(x)))


class _FrameRefiner(nn.Module):
    """IPA-lite: attention biased by current CA distances, then a frame update in local coordinates."""

    def __init__(self, d_model: int, n_heads: int, trans_scale: float) -> None:
        super().__init__()
        self.block = _Block(d_model, n_heads, 2, 0.0)
        self.dist_weight = nn.Parameter(torch.full((n_heads,), -0.02))
        self.update = nn.Linear(d_model, 6)
        nn.init.zeros_(self.update.weight)
        nn.init.zeros_(self.update.bias)
        self.trans_scale = trans_scale

    def forward(self, h: Tensor, bias: Tensor, rot: Tensor, trans: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        d2 = torch.cdist(trans, trans).pow(2)  # (B, L, L)
        geo_bias = bias + self.dist_weight[None, :, None, None] * d2[:, None] / self.trans_scale
        h = self.block(h, geo_bias)
        upd = self.update(h)
        # rotation update: a small axis-angle-like vector applied in the local frame
        delta_rot = gram_schmidt(
            torch.cat([torch.ones_like(upd[..., :1]), upd[..., 0:2]], -1),
            torch.cat([-upd[..., :1], torch.ones_like(upd[..., :1]), upd[..., 2:3]], -1),
        )
        rot = rot @ delta_rot
        trans = trans + torch.einsum("...ij,...j->...i", rot, upd[..., 3:6]) * self.trans_scale
        return h, rot, trans


def pair_features(left: Tensor, rel: Tensor) -> Tensor:
    """Symmetric pair features ``[a_i * a_j, |a_i - a_j| + rel_ij]`` of per-residue ``left`` (B, L, P) and
    relative-position embeddings ``rel`` (B, L, L, P), shape (B, L, L, 2P)."""
    rel = rel + rel.transpose(1, 2)
    prod = left[:, :, None, :] * left[:, None, :, :]
    return torch.cat([prod, (left[:, :, None, :] - left[:, None, :, :]).abs() + rel], dim=-1)


class _PairBias(nn.Module):
    """Attention biases (B, n_out, L, L) from pair features of the residues' current states."""

    def __init__(self, d_model: int, pair_dim: int, n_rel_buckets: int, n_out: int) -> None:
        super().__init__()
        self.left = nn.Linear(d_model, pair_dim)
        self.rel = nn.Embedding(n_rel_buckets, pair_dim)
        out = nn.Linear(pair_dim, n_out)
        nn.init.zeros_(out.weight)  # starts as the plain trunk
        nn.init.zeros_(out.bias)
        self.head = nn.Sequential(nn.Linear(2 * pair_dim, pair_dim), nn.ReLU(), out)

    def forward(self, h: Tensor, buckets: Tensor) -> Tensor:
        return self.head(pair_features(self.left(h), self.rel(buckets))).permute(0, 3, 1, 2)


class Decoder(nn.Module):
    """Code vectors -> backbone coordinates. See the module docstring for the design.

    Parameters
    ----------
    config : DecoderConfig
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        if config.pos_features % 2:
            raise ValueError(f"pos_features must be even, got {config.pos_features}")
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} not divisible by n_heads {config.n_heads}")
        self.config = config
        c = config
        self.input_proj = nn.Linear(c.input_dim, c.d_model)
        self.pos_proj = nn.Linear(c.pos_features, c.d_model) if c.pos_features > 0 else None
        self.rel_bias = nn.Embedding(c.n_rel_buckets, c.n_heads * (c.n_layers + c.n_refine))
        nn.init.zeros_(self.rel_bias.weight)
        self.blocks = nn.ModuleList(
            _Block(c.d_model, c.n_heads, c.ffn_mult, c.dropout) for _ in range(c.n_layers)
        )
        self.norm = nn.LayerNorm(c.d_model)
        self.frame_head = nn.Linear(c.d_model, 9)
        self.o_head = nn.Linear(c.d_model, 3)
        nn.init.zeros_(self.o_head.weight)
        with torch.no_grad():
            self.o_head.bias.copy_(torch.tensor(_O_DIR_INIT))
        self.refiners = nn.ModuleList(
            _FrameRefiner(c.d_model, c.n_heads, c.trans_scale) for _ in range(c.n_refine)
        )
        #: Layers before the pair bias starts (all of them when there is none).
        self.n_plain = c.n_layers // 2 if c.pair_bias else c.n_layers
        self.pair_bias = (
            _PairBias(
                c.d_model, c.pair_dim, c.n_rel_buckets, c.n_heads * (c.n_layers - self.n_plain + c.n_refine)
            )
            if c.pair_bias
            else None
        )
        self.pair_left = nn.Linear(c.d_model, c.pair_dim)
        self.pair_rel = nn.Embedding(c.n_rel_buckets, c.pair_dim)
        self.pair_head = nn.Sequential(
            nn.Linear(2 * c.pair_dim, c.pair_dim), nn.ReLU(), nn.Linear(c.pair_dim, c.n_dist_bins)
        )

    def _check_inputs(self, codes: Tensor, residue_idx: Tensor, mask: Tensor) -> None:
        if codes.dim() != 3 or codes.shape[-1] != self.config.input_dim:
            raise ValueError(
                f"codes must have shape (B, L, {self.config.input_dim}), got {tuple(codes.shape)}"
            )
        if residue_idx.shape != codes.shape[:2] or mask.shape != codes.shape[:2]:
            raise ValueError("residue_idx, chain_idx, chain_break and mask must have shape (B, L)")
        limit = self.config.max_length
        if limit is not None:
            longest = int(mask.sum(-1).max()) if mask.numel() else 0
            if longest > limit:
                raise ChainTooLongError(f"{longest} residues exceed this decoder's max_length={limit}")

    def forward(
        self,
        codes: Tensor,
        residue_idx: Tensor,
        chain_idx: Tensor,
        chain_break: Tensor,
        mask: Tensor,
        *,
        return_distogram: bool = False,
    ) -> DecoderOutput:
        """Decode a padded batch.

        Parameters
        ----------
        codes : Tensor, shape=(B, L, input_dim), float
            Code vectors (what the quantizer passes on).
        residue_idx : Tensor, shape=(B, L), dtype=long
            Position within the chain.
        chain_idx : Tensor, shape=(B, L), dtype=long
            Chain number within the complex.
        chain_break : Tensor, shape=(B, L), dtype=bool
            True where residue i is not bonded to i-1 (and at the first residue of later chains).
        mask : Tensor, shape=(B, L), dtype=bool
            True for real residues, False for padding.
        return_distogram : bool
            Also compute the (B, L, L, n_dist_bins) distogram logits (training only).

        Returns
        -------
        DecoderOutput
        """
        self._check_inputs(codes, residue_idx, mask)
        c = self.config
        b, n, _ = codes.shape
        mask = mask.to(torch.bool)
        buckets = relative_position_buckets(residue_idx, chain_idx, chain_break, c.rel_pos_clip)
        bias_all = self.rel_bias(buckets).permute(0, 3, 1, 2)  # (B, H*(layers+refine), L, L)
        key_pad = torch.zeros(b, 1, 1, n, dtype=codes.dtype, device=codes.device)
        key_pad = key_pad.masked_fill(~mask[:, None, None, :], -1e9)
        biases = (bias_all.to(codes.dtype) + key_pad).split(c.n_heads, dim=1)

        h = self.input_proj(codes)
        if self.pos_proj is not None:
            h = h + self.pos_proj(sinusoidal_features(residue_idx, c.pos_features).to(h.dtype))
        biases = list(biases)
        for i, block in enumerate(self.blocks):
            if i == self.n_plain and self.pair_bias is not None:
                extra = self.pair_bias(h, buckets).to(h.dtype).split(c.n_heads, dim=1)
                biases[i:] = [b + e for b, e in zip(biases[i:], extra, strict=True)]
            h = block(h, biases[i])
        h = self.norm(h)
        # Frames and coordinates in float32 even under bf16 autocast (see protok._precision).
        with full_precision(h.device):
            h = h.float()
            biases = [b.float() for b in biases]
            f = self.frame_head(h)
            rot = gram_schmidt(
                f[..., 0:3] + h.new_tensor([1.0, 0.0, 0.0]), f[..., 3:6] + h.new_tensor([0.0, 1.0, 0.0])
            )
            trans = f[..., 6:9] * c.trans_scale
            for j, refiner in enumerate(self.refiners):
                h, rot, trans = refiner(h, biases[c.n_layers + j], rot, trans)
            coords = frames_to_backbone(rot, trans, self.o_head(h))
        logits = self._distogram(h, buckets) if return_distogram else None
        return DecoderOutput(
            coords=coords, rotation=rot, translation=trans, single=h, distogram_logits=logits
        )

    def _distogram(self, h: Tensor, buckets: Tensor) -> Tensor:
        return self.pair_head(pair_features(self.pair_left(h), self.pair_rel(buckets)))
