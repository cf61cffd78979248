"""Process-group setup and gradient averaging for one-device and ``torchrun`` (DDP) training.

Gradients are averaged with one flattened ``all_reduce`` per step after ``backward`` instead of wrapping
the model in ``DistributedDataParallel``: the model returns a dataclass, and quantizers may leave codebook
parameters without gradients on some steps (EMA / frozen codebooks), which DDP's bucketing rejects
unless ``find_unused_parameters`` is set. Parameters without a gradient count as zero on that rank.
Quantizer buffers (k-means init, EMA statistics) are synchronised by the quantizers themselves
(:mod:`protok.quantizers.distributed`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "all_gather_objects",
    "all_reduce_gradients",
    "barrier",
    "broadcast_parameters",
    "cleanup_distributed",
    "init_distributed",
    "select_device",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``, ``local_rank`` on its node, its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def select_device(spec: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:local_rank`` when CUDA is available else CPU; otherwise ``torch.device(spec)``."""
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(spec)


def init_distributed(device_spec: str = "auto") -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1), else single process.

    Uses NCCL on CUDA and gloo on CPU. An already initialised group is reused.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    device = select_device(device_spec, local_rank)
    if world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(
                backend="nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world
            )
        rank, world = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=device)


def cleanup_distributed() -> None:
    """Destroy the process group if one is active."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    if _active():
        dist.barrier()


@torch.no_grad()
def broadcast_parameters(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank."""
    if not _active():
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src)


@torch.no_grad()
def all_reduce_gradients(module: nn.Module) -> None:
    """Average gradients over ranks (a missing gradient counts as zero), one flat all_reduce per dtype."""
    if not _active():
        return
    world = dist.get_world_size()
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return
    dev = params[0].device
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=dev)
    dist.all_reduce(has, op=dist.ReduceOp.SUM)
    by_dtype: dict[torch.dtype, list[nn.Parameter]] = {}
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        by_dtype.setdefault(p.grad.dtype, []).append(p)
    for group in by_dtype.values():
        grads = [p.grad for p in group if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= world
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n
    # a parameter no rank produced a gradient for stays without one (the optimizer skips it, as on 1 rank)
    for p, h in zip(params, has.tolist()):
        if h == 0:
            p.grad = None


def all_gather_objects(obj: object) -> list[object]:
    """Every rank's ``obj`` (picklable, small), in rank order; ``[obj]`` when not distributed."""
    if not _active():
        return [obj]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
