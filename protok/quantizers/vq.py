"""Vanilla vector quantization (VQ-VAE) with data-dependent init and dead-code re-seeding.

Nearest code by squared L2; straight-through estimator; loss ``codebook_weight * |sg(z) - q|^2 +
commitment_weight * |z - sg(q)|^2`` (defaults 1.0 and 0.25, StructTokenBench's recipe).

:class:`VectorQuantizer` also holds the machinery shared by the EMA and AminoAseed variants, which
override four hooks: ``_make_codebook``, ``_codebook``, ``_assign_codes`` and ``_after_assign``.

Straight-through value. In training the output for a valid row is ``sg(q) + (z - sg(z))``: its value is
*exactly* ``q`` (``z - sg(z)`` is exactly 0) and its gradient w.r.t. ``z`` is the identity. (The common
``z + sg(q - z)`` is only equal to ``q`` up to rounding.)

Initialisation. On the first training forward, rank 0 runs k-means (or samples rows) on its valid encoder
outputs and broadcasts the codebook, so all DDP ranks start identical. ``initted`` is a buffer, so a
restored checkpoint is not re-initialised.

Dead codes. Per-code counts are summed over ranks each training step; a code unused for
``dead_code_steps`` consecutive steps is dead and is re-seeded with a random row of rank 0's batch plus a
little noise (broadcast). ``stats["dead_codes"]`` is the number found dead in this step (in eval mode: the
number currently idle that long) and ``stats["reseeded"]`` how many of them were re-seeded (all, unless
rank 0 had no valid rows). Optimiser moments of re-seeded codes are not reset (the optimiser is not ours).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from protok.quantizers.base import Quantizer, QuantizerOutput, batch_stats, check_input
from protok.quantizers.distributed import all_reduce_sum_, broadcast_, get_rank
from protok.quantizers.kmeans import kmeans, sample_rows

__all__ = ["VectorQuantizer"]


class VectorQuantizer(Quantizer):
    """Vanilla VQ: learned codebook, straight-through estimator, codebook + commitment losses.

    Parameters
    ----------
    codebook_size : int
        K.
    dim : int
        D.
    commitment_weight, codebook_weight : float
        Loss weights (0.25 and 1.0).
    init : str
        ``"kmeans"``, ``"sample"`` or ``"none"`` (see :class:`~protok.quantizers.config.QuantizerConfig`).
    kmeans_iters : int
        Lloyd iterations for ``init="kmeans"``.
    dead_code_steps : int
        Steps without use after which a code is re-seeded (0 = never).
    reseed_noise : float
        Noise of re-seeded codes, in batch standard deviations.
    seed : int
        Seed of the init / re-seed random stream (used on rank 0 only; results are broadcast).
    cosine : bool
        Cosine lookup: the effective code vectors are l2-normalised (:meth:`codebook`), so for unit-norm
        inputs (the model normalises its latents when this is set) the nearest code is the most similar
        direction and every code lies on the unit sphere.

    Examples
    --------
    >>> q = VectorQuantizer(codebook_size=16, dim=4)
    >>> out = q(torch.randn(10, 4))
    >>> out.quantized.shape, out.indices.shape
    (torch.Size([10, 4]), torch.Size([10]))
    """

    has_codebook_loss: bool = True
    initted: Tensor
    unused_steps: Tensor

    def __init__(
        self,
        *,
        codebook_size: int = 512,
        dim: int = 128,
        commitment_weight: float = 0.25,
        codebook_weight: float = 1.0,
        init: str = "kmeans",
        kmeans_iters: int = 10,
        dead_code_steps: int = 200,
        reseed_noise: float = 0.01,
        seed: int = 0,
        cosine: bool = False,
    ) -> None:
        super().__init__()
        self.cosine = cosine
        self.codebook_size = codebook_size
        self.dim = dim
        self.commitment_weight = commitment_weight
        self.codebook_weight = codebook_weight
        self.init = init
        self.kmeans_iters = kmeans_iters
        self.dead_code_steps = dead_code_steps
        self.reseed_noise = reseed_noise
        self._generator = torch.Generator().manual_seed(seed)
        self._make_codebook()
        self.register_buffer("initted", torch.tensor(init == "none"))
        self.register_buffer("unused_steps", torch.zeros(codebook_size, dtype=torch.long))

    # ---- hooks overridden by variants -------------------------------------------------------------
    def _make_codebook(self) -> None:
        self.weight = nn.Parameter(torch.randn(self.codebook_size, self.dim, generator=self._generator))

    def _codebook(self) -> Tensor:
        """The code vectors before the cosine normalisation, shape=(K, D)."""
        return self.weight

    def codebook(self) -> Tensor:
        """The effective code vectors, shape=(K, D) (l2-normalised when ``cosine``)."""
        cb = self._codebook()
        return F.normalize(cb, dim=-1) if self.cosine else cb

    @torch.no_grad()
    def _assign_codes(self, idx: Tensor | None, vectors: Tensor) -> None:
        """Set effective code vectors ``vectors`` (n, D) at ``idx`` (n,), or all codes when ``idx`` is None.

        Writes the parameter's storage (``.data``), not through autograd: the step's graph may still hold
        the codebook (the cosine lookup normalises it), and the rows re-seeded here were unused by the
        step, so their gradient is zero either way."""
        if idx is None:
            self.weight.data.copy_(vectors)
        else:
            self.weight.data[idx] = vectors.to(self.weight.dtype)

    def _after_assign(self, zv: Tensor, idx: Tensor) -> None:
        """Hook after assignment in training (EMA updates its statistics here)."""

    # ---- shared machinery -------------------------------------------------------------------------
    @torch.no_grad()
    def _data_init(self, zv: Tensor) -> None:
        cb = self.codebook().detach().float().clone()
        if get_rank() == 0 and zv.shape[0] > 0 and self.init != "none":
            if self.init == "kmeans":
                cb, _ = kmeans(zv, self.codebook_size, self.kmeans_iters, self._generator)
            else:
                cb = sample_rows(zv, self.codebook_size, self._generator)
        broadcast_(cb)
        self._assign_codes(None, cb)
        self.initted.fill_(True)

    @torch.no_grad()
    def _handle_dead_codes(self, zv: Tensor, idx_v: Tensor) -> tuple[int, int]:
        """Update per-code idle counters; re-seed dead codes. Returns (dead found, re-seeded)."""
        if self.dead_code_steps == 0:
            return 0, 0
        counts = torch.bincount(idx_v, minlength=self.codebook_size)
        all_reduce_sum_(counts)
        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        dead = (self.unused_steps >= self.dead_code_steps).nonzero().squeeze(1)
        n = int(dead.numel())
        if n == 0:
            return 0, 0
        # rank 0 decides whether it has rows to seed from; every rank follows (identical codebooks)
        has_rows = torch.tensor([float(zv.shape[0] > 0)], device=zv.device)
        broadcast_(has_rows)
        if not bool(has_rows.item()):
            return n, 0
        rows = torch.zeros(n, self.dim, device=zv.device)
        if get_rank() == 0:
            rows = sample_rows(zv, n, self._generator, noise=self.reseed_noise)
        broadcast_(rows)
        self._assign_codes(dead, rows)
        self.unused_steps[dead] = 0
        return n, n

    def dead_code_count(self) -> int:
        """Codes currently unused for at least ``dead_code_steps`` training steps (0 when disabled)."""
        if self.dead_code_steps == 0:
            return 0
        return int((self.unused_steps >= self.dead_code_steps).sum())

    @torch.no_grad()
    def indices(self, z: Tensor, mask: Tensor | None = None) -> Tensor:
        """Nearest code per valid row, -1 elsewhere (what :meth:`forward` returns as ``indices``)."""
        valid = check_input(z, mask, self.dim)
        if bool(valid.all()):
            return self.nearest(z)
        out = torch.full((z.shape[0],), -1, dtype=torch.long, device=z.device)
        out[valid] = self.nearest(z[valid])
        return out

    def forward(self, z: Tensor, *, mask: Tensor | None = None, progress: float = 1.0) -> QuantizerOutput:
        """Quantize ``z``.

        Parameters
        ----------
        z : Tensor, shape=(N, D)
            Encoder outputs.
        mask : Tensor, shape=(N,), dtype=bool, optional
            False for rows to skip (index -1, zero output, no loss, no statistics).
        progress : float
            Unused (kept for the common contract).

        Returns
        -------
        QuantizerOutput
            ``losses`` has ``codebook`` and ``commitment``; ``stats`` has ``perplexity``, ``usage``,
            ``dead_codes``, ``reseeded``.
        """
        mask = check_input(z, mask, self.dim)
        all_valid = bool(mask.all())
        zv = z if all_valid else z[mask]
        if self.training and not bool(self.initted):
            self._data_init(zv.detach())
        cb = self.codebook()
        idx_v = self.nearest(zv, cb)
        q = cb[idx_v]
        if zv.shape[0] > 0:
            commitment = F.mse_loss(zv, q.detach())
            codebook_loss = F.mse_loss(q, zv.detach()) if self.has_codebook_loss else commitment.new_zeros(())
        else:  # keep the graph connected (DDP) with exact zeros
            commitment = zv.sum() * 0.0
            codebook_loss = cb.sum() * 0.0 if cb.requires_grad else commitment
        loss = self.codebook_weight * codebook_loss + self.commitment_weight * commitment

        if all_valid:
            indices = idx_v
        else:
            indices = torch.full((z.shape[0],), -1, dtype=torch.long, device=z.device)
            indices[mask] = idx_v

        n_dead, reseeded = self.dead_code_count(), 0
        if self.training:
            out_v = q.detach() + (zv - zv.detach())
            quantized = out_v if all_valid else out_v.new_zeros(z.shape).index_put((mask,), out_v)
            self._after_assign(zv.detach(), idx_v)
            n_dead, reseeded = self._handle_dead_codes(zv.detach(), idx_v)
        else:
            quantized = self._lookup(cb, indices)

        stats = batch_stats(idx_v, self.codebook_size)
        stats["dead_codes"] = float(n_dead)
        stats["reseeded"] = float(reseeded)
        return QuantizerOutput(
            quantized=quantized,
            indices=indices,
            loss=loss,
            losses={"codebook": codebook_loss, "commitment": commitment},
            stats=stats,
        )
