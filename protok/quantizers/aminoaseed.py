"""AminoAseed (StructTokenBench): a frozen codebook seen through a learned linear projection.

The raw codebook ``C`` (K, D) is set once by data-dependent initialisation and then frozen (a buffer);
the effective codebook is ``Linear(C) = C W^T + b`` with a learned D x D matrix ``W`` and bias ``b``, so
every gradient step on ``W, b`` moves every code, used or not. Losses are those of vanilla VQ on the
effective codebook. ``W`` starts as the identity and ``b`` as zero, so right after initialisation the
effective codebook equals the data-initialised ``C``.

Dead-code re-seeding (and init) set *effective* codes: the raw rows are solved from ``W c + b = v`` by
least squares, so the re-seeded effective code equals the requested vector up to rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from protok.quantizers.vq import VectorQuantizer

__all__ = ["AminoAseedQuantizer"]


class AminoAseedQuantizer(VectorQuantizer):
    """Frozen codebook ``C`` plus a learned ``Linear(D, D)``; effective codebook ``proj(C)``.

    Parameters are those of :class:`~protok.quantizers.vq.VectorQuantizer`.
    """

    raw_codebook: Tensor

    def _make_codebook(self) -> None:
        self.register_buffer(
            "raw_codebook", torch.randn(self.codebook_size, self.dim, generator=self._generator)
        )
        self.proj = nn.Linear(self.dim, self.dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.eye(self.dim))
            self.proj.bias.zero_()

    def _codebook(self) -> Tensor:
        """Effective code vectors ``proj(raw_codebook)``, shape=(K, D)."""
        return self.proj(self.raw_codebook)

    @torch.no_grad()
    def _assign_codes(self, idx: Tensor | None, vectors: Tensor) -> None:
        w = self.proj.weight.double()
        rhs = (vectors.double() - self.proj.bias.double()).t()  # (D, n)
        raw = torch.linalg.lstsq(w, rhs).solution.t().to(self.raw_codebook.dtype)
        # out of place: the old raw codebook may be saved for the backward pass of ``proj``
        new = raw if idx is None else self.raw_codebook.clone().index_put_((idx,), raw)
        self.raw_codebook = new
