"""Full-precision regions inside bf16 autocast (CUDA training).

Coordinates and nearest-code searches need float32: bf16 keeps about three significant digits, so a
coordinate of 30 Å rounds by up to ~0.1 Å and a distance comparison between codes can flip. Code that
builds coordinates or picks codes runs inside :func:`full_precision`, with its inputs cast to float32.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["full_precision"]


def full_precision(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """Autocast switched off on ``device``'s type (a no-op where autocast is not on)."""
    if not torch.is_autocast_enabled(device.type):
        return contextlib.nullcontext()
    return torch.autocast(device.type, enabled=False)
