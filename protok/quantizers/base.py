"""The one contract every protok quantizer implements.

A quantizer maps per-residue vectors ``z`` (N, D) to the vectors the decoder sees and to code indices.
``progress`` in [0, 1] is the fraction of training done; schedules (ProVQ hardness) read it. In eval mode
the output ``quantized`` must equal ``indices_to_codes(indices)`` exactly (fully discrete inference).

Masking: rows where ``mask`` is False (missing residues, padding) get index ``-1``, contribute no loss and
no statistics, and are output as zero vectors; ``indices_to_codes`` maps ``-1`` to a zero vector, so the
round trip holds for masked rows too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from protok._precision import full_precision
from protok.quantizers.errors import QuantizerInputError

__all__ = ["Quantizer", "QuantizerOutput", "batch_stats", "check_input"]


@dataclass
class QuantizerOutput:
    """Result of a quantizer forward pass.

    Attributes
    ----------
    quantized : Tensor, shape=(N, D)
        What the decoder receives. In eval mode exactly the code vectors of ``indices``
        (zeros where ``indices == -1``).
    indices : Tensor, shape=(N,), dtype=long
        Nearest code per vector (``-1`` where ``mask`` is False).
    loss : Tensor, scalar
        Weighted sum of the quantizer's loss terms (0 for losses it does not use).
    losses : dict of str to Tensor
        The individual terms (``commitment``, ``codebook``, ...), unweighted.
    stats : dict of str to float
        At least ``perplexity``, ``usage`` (fraction of the K codes used in this batch), ``dead_codes``
        (codes unused for ``dead_code_steps`` steps) and ``reseeded`` (codes re-seeded in this step);
        for progressive quantizers also ``alpha`` (quantization hardness in [0, 1]).
    """

    quantized: Tensor
    indices: Tensor
    loss: Tensor
    losses: dict[str, Tensor] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)


def check_input(z: Tensor, mask: Tensor | None, dim: int) -> Tensor:
    """Validate ``z`` (N, D) and ``mask`` (N,) bool; return the mask (all True when None).

    Raises
    ------
    QuantizerInputError
        Wrong rank, wrong D, or a mask of the wrong shape / dtype.
    """
    if z.ndim != 2 or z.shape[1] != dim:
        raise QuantizerInputError(f"quantizer input must have shape (N, {dim}), got {tuple(z.shape)}")
    if not z.is_floating_point():
        raise QuantizerInputError(f"quantizer input must be floating point, got {z.dtype}")
    if mask is None:
        return torch.ones(z.shape[0], dtype=torch.bool, device=z.device)
    if mask.shape != (z.shape[0],) or mask.dtype != torch.bool:
        raise QuantizerInputError(
            f"mask must be a bool tensor of shape ({z.shape[0]},), got {mask.dtype} {tuple(mask.shape)}"
        )
    return mask


@torch.no_grad()
def batch_stats(indices: Tensor, codebook_size: int) -> dict[str, float]:
    """Perplexity and usage of the valid indices of one batch.

    Parameters
    ----------
    indices : Tensor, shape=(M,), dtype=long
        Indices of valid rows only (no ``-1``).
    codebook_size : int
        K.

    Returns
    -------
    dict
        ``perplexity`` = exp(entropy of the code histogram) in [1, K] (0 for an empty batch) and ``usage``
        = fraction of the K codes used at least once.
    """
    if indices.numel() == 0:
        return {"perplexity": 0.0, "usage": 0.0}
    counts = torch.bincount(indices, minlength=codebook_size).float()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    perplexity, used = torch.stack([entropy.exp(), (counts > 0).float().sum()]).tolist()
    return {"perplexity": float(perplexity), "usage": float(used) / codebook_size}


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

    @torch.no_grad()
    def indices(self, z: Tensor, mask: Tensor | None = None) -> Tensor:
        """Code index per row of ``z`` (N, D), -1 where ``mask`` is False: ``forward(z, mask=mask,
        progress=1.0).indices`` of the module in eval mode, without the losses and statistics (the
        tokenizer's path). Subclasses with a cheaper exact route override it."""
        return self.forward(z, mask=mask, progress=1.0).indices

    def lookup_space(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The space in which codes are picked: ``z`` mapped into it, and the K codes in it.

        Codebook quantizers pick the nearest code vector to ``z`` itself (this default); a quantizer that
        projects first (FSQ) overrides it. Row ``k`` of the codes is code ``k``, so the nearest code (squared
        L2) to row ``i`` of the mapped ``z`` is ``indices[i]`` (ties aside). Differentiable in ``z``.

        Parameters
        ----------
        z : Tensor, shape=(N, D)

        Returns
        -------
        vectors : Tensor, shape=(N, d)
        codes : Tensor, shape=(K, d)
        """
        return z, self.codebook()

    def indices_to_codes(self, indices: Tensor) -> Tensor:
        """Code vectors for ``indices`` (any shape) -> shape + (D,); index ``-1`` gives a zero vector."""
        return self._lookup(self.codebook(), indices)

    @staticmethod
    def _lookup(codebook: Tensor, indices: Tensor) -> Tensor:
        codes = codebook[indices.clamp(min=0)]
        return torch.where(
            (indices >= 0).unsqueeze(-1), codes, torch.zeros((), dtype=codes.dtype, device=codes.device)
        )

    @torch.no_grad()
    def nearest(self, z: Tensor, codebook: Tensor | None = None) -> Tensor:
        """Index of the nearest code (squared L2) for each row of ``z`` (N, D), computed in float32.

        ``argmin_k |z - c_k|^2 = argmin_k (|c_k|^2 - 2 z.c_k)``: the row constant ``|z|^2`` is dropped and
        the rest is one fused ``addmm``.
        """
        cb = (self.codebook() if codebook is None else codebook).detach().float()
        z = z.detach().float()
        with full_precision(z.device):  # bf16 autocast would flip close calls
            d = torch.addmm(cb.pow(2).sum(-1)[None], z, cb.t(), alpha=-2.0)
        return d.argmin(dim=-1)

    def extra_repr(self) -> str:
        return f"codebook_size={self.codebook_size}, dim={self.dim}"
