"""Optimizer and learning-rate schedule shared by tokenizer training and the benchmark's probes."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["adamw_decay_matrices", "warmup_cosine"]


def warmup_cosine(step: int, *, warmup: int, total: int, min_ratio: float = 0.0) -> float:
    """Learning-rate multiplier for optimizer step ``step`` (0-based).

    Linear warmup over ``warmup`` steps to 1, then cosine decay to ``min_ratio`` at ``total`` (held there).
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def adamw_decay_matrices(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.98),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    """AdamW with weight decay only on parameters of 2+ dimensions (not biases, norms, 1-d vectors).

    Frozen parameters (``requires_grad`` False) are left out.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
