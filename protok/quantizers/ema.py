"""EMA vector quantization: codes are exponential moving averages of their assigned encoder outputs.

Per training step, with one-hot assignments summed over all DDP ranks (all-reduce)::

    N_k   <- decay * N_k + (1 - decay) * n_k            (n_k: rows assigned to code k)
    m_k   <- decay * m_k + (1 - decay) * sum_{i -> k} z_i
    e_k    = m_k / N~_k,  N~_k = (N_k + eps) / (sum_j N_j + K eps) * sum_j N_j     (Laplace smoothing)

the update of ``vector_quantize_pytorch.VectorQuantize`` up to 1.33 (tested against it; 1.34 moved to zero
initial statistics and a different smoothing). The codebook receives no gradient and has no codebook loss;
the loss is ``commitment_weight * |z - sg(q)|^2``. Initial statistics are ``N_k = 1``, ``m_k = e_k`` (also
after data-dependent init and for re-seeded codes).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from protok.quantizers.distributed import all_reduce_sum_
from protok.quantizers.vq import VectorQuantizer

__all__ = ["EMAVectorQuantizer"]


class EMAVectorQuantizer(VectorQuantizer):
    """VQ whose codebook is updated by EMA of cluster statistics (not by gradients).

    Parameters
    ----------
    decay : float
        EMA decay (0.99).
    eps : float
        Laplace-smoothing epsilon (1e-5).
    **kwargs
        As :class:`~protok.quantizers.vq.VectorQuantizer` (``codebook_weight`` is ignored: no codebook loss).
    """

    has_codebook_loss = False
    embed: Tensor
    cluster_size: Tensor
    embed_avg: Tensor

    def __init__(self, *, decay: float = 0.99, eps: float = 1e-5, **kwargs: Any) -> None:
        self.decay = decay
        self.eps = eps
        super().__init__(**kwargs)

    def _make_codebook(self) -> None:
        embed = torch.randn(self.codebook_size, self.dim, generator=self._generator)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.ones(self.codebook_size))
        self.register_buffer("embed_avg", embed.clone())

    def _codebook(self) -> Tensor:
        """The EMA code vectors, shape=(K, D) (a buffer, no gradient)."""
        return self.embed

    @torch.no_grad()
    def _assign_codes(self, idx: Tensor | None, vectors: Tensor) -> None:
        vectors = vectors.to(self.embed.dtype)
        if idx is None:
            self.embed.copy_(vectors)
            self.cluster_size.fill_(1.0)
            self.embed_avg.copy_(vectors)
        else:
            self.embed[idx] = vectors
            self.cluster_size[idx] = 1.0
            self.embed_avg[idx] = vectors

    @torch.no_grad()
    def _after_assign(self, zv: Tensor, idx: Tensor) -> None:
        counts = torch.bincount(idx, minlength=self.codebook_size).to(self.cluster_size.dtype)
        sums = torch.zeros_like(self.embed_avg).index_add_(0, idx, zv.to(self.embed_avg.dtype))
        all_reduce_sum_(counts)
        all_reduce_sum_(sums)
        self.cluster_size.lerp_(counts, 1.0 - self.decay)
        self.embed_avg.lerp_(sums, 1.0 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.codebook_size * self.eps) * total
        self.embed.copy_(self.embed_avg / smoothed[:, None])
