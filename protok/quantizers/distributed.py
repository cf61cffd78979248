"""Thin torch.distributed helpers so quantizers behave identically on one process and under DDP.

All functions are no-ops when torch.distributed is unavailable, uninitialised or has world size 1.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["all_reduce_sum_", "broadcast_", "get_rank", "is_distributed"]


def is_distributed() -> bool:
    """True when a process group with more than one rank is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


@torch.no_grad()
def broadcast_(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``tensor`` in place with rank ``src``'s copy; returns it."""
    if is_distributed():
        dist.broadcast(tensor, src)
    return tensor


@torch.no_grad()
def all_reduce_sum_(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over all ranks, in place; returns it."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
