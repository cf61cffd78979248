"""Scoped torch thread counts: set for a block, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads; the previous count is restored on exit.

    ``None`` leaves the count as it is (so callers can scope a setting that applies only sometimes).
    torch is imported only when a count is set.
    """
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
