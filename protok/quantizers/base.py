"""The one contract every protok quantizer implements.

A quantizer maps per-residue vectors ``z`` (N, D) to the vectors the decoder sees and to code indices.
``progress`` in [0, 1] is the fraction of training done; schedules (ProVQ hardness) read it. In eval mode
the output ``quantized`` must equal ``indices_to_codes(indices)`` exactly (fully discrete inference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["Quantizer", "QuantizerOutput"]


@dataclass
class QuantizerOutput:
    """Result of a quantizer forward pass.

    Attributes
    ----------
    quantized : Tensor, shape=(N, D)
        What the decoder receives. In eval mode exactly the code vectors of ``indices``.
    indices : Tensor, shape=(N,), dtype=long
        Nearest code per vector (``-1`` where ``mask`` is False).
    loss : Tensor, scalar
        Weighted sum of the quantizer's loss terms (0 for losses it does not use).
    losses : dict of str to Tensor
        The individual terms (``commitment``, ``codebook``, ...), unweighted.
    stats : dict of str to float
        At least ``perplexity``, ``usage`` (fraction of the K codes used in this batch) and, for
        progressive quantizers, ``alpha`` (quantization hardness in [0, 1]).
    """

    quantized: Tensor
    indices: Tensor
    loss: Tensor
    losses: dict[str, Tensor] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)


class Quantizer(nn.Module):
    """Base class: subclasses implement ``forward`` and ``codebook``.

    Parameters
    ----------
    codebook_size : int
        K, number of codes.
    dim : int
        D, dimension of input vectors and code vectors.
    """

    codebook_size: int
    dim: int

    def forward(self, z: Tensor, *, mask: Tensor | None = None, progress: float = 1.0) -> QuantizerOutput:
        raise NotImplementedError

    def codebook(self) -> Tensor:
        """The effective code vectors, shape=(K, D) (after any projection)."""
        raise NotImplementedError

    def indices_to_codes(self, indices: Tensor) -> Tensor:
        """Code vectors for ``indices`` (any shape) -> shape + (D,)."""
        return self.codebook()[indices]

    @torch.no_grad()
    def nearest(self, z: Tensor) -> Tensor:
        """Index of the nearest code (squared L2) for each row of ``z`` (N, D), computed in float32."""
        cb = self.codebook().float()
        z = z.float()
        d = (z.pow(2).sum(-1, keepdim=True) - 2 * z @ cb.t() + cb.pow(2).sum(-1)[None])
        return d.argmin(dim=-1)
