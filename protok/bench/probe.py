"""The StructTokenBench probe: frozen code-vector lookup + learned position embedding + LayerNorm +
dropout, then an MLP (one hidden layer of 512), trained with AdamW; learning rate picked on validation.

Task kinds
----------
``binary``
    Per-residue, several binary label groups at once: targets (L, G) in {−1 (unknown), 0, 1}; BCE-with-
    logits with per-batch, per-group class weights pos = N/(2·n_pos), neg = N/(2·n_neg).
``multiclass``
    Per-residue classes (L,), −1 ignored; cross-entropy.
``regression``
    Per-residue targets (L, R), NaN ignored; MSE.
``protein``
    One class per chain (scalar); masked mean pool of the normalised features, then the MLP; cross-entropy.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from protok.training.optim import adamw_decay_matrices, warmup_cosine

__all__ = ["ProbeConfig", "ProbeModel", "ProbeData", "train_probe", "predict", "TASK_KINDS"]

log = logging.getLogger(__name__)

TASK_KINDS = ("binary", "multiclass", "regression", "protein")


@dataclass(frozen=True)
class ProbeConfig:
    """Probe optimisation settings (StructTokenBench: 10,000 steps, 200 warmup; here CPU-sized).

    Attributes
    ----------
    steps : int
        Optimiser steps per run.
    batch_size : int
        Chains per batch for residue tasks (StructTokenBench: 8).
    protein_batch_size : int
        Chains per batch for per-protein tasks (StructTokenBench: 64).
    lrs : tuple of float
        Learning rates swept on validation (seed 0); the best is used for all seeds.
    seeds : int
        Seeds at the chosen learning rate (>= 3 for mean ± std).
    eval_every : int
        Steps between validation checks; the best validation checkpoint is kept.
    """

    steps: int = 300
    batch_size: int = 8
    protein_batch_size: int = 32
    hidden: int = 512
    dropout: float = 0.1
    lrs: tuple[float, ...] = (1e-3, 1e-4)
    seeds: int = 3
    warmup: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 100
    max_len: int = 512


@dataclass
class ProbeData:
    """Token arrays and targets of one split part.

    Attributes
    ----------
    tokens : list of ndarray, each shape=(L_i,), int64 (−1 = undefined)
    targets : list of ndarray
        Per kind: (L_i, G) int8, (L_i,) int64, (L_i, R) float32, or a scalar int.
    """

    tokens: list[np.ndarray]
    targets: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.tokens)


class ProbeModel(nn.Module):
    """Frozen lookup + position embedding + LayerNorm + dropout + MLP.

    Parameters
    ----------
    vectors : ndarray, shape=(K, D)
        The tokenizer's code vectors (frozen); row K (zeros) is used for undefined / padding tokens.
    out_dim : int
    max_len : int
    per_protein : bool
        Mean-pool over residues before the MLP.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        out_dim: int,
        *,
        max_len: int,
        hidden: int = 512,
        dropout: float = 0.1,
        per_protein: bool = False,
    ) -> None:
        super().__init__()
        v = torch.as_tensor(np.asarray(vectors, np.float32))
        codebook_size, d = v.shape
        self.register_buffer("table", torch.cat([v, torch.zeros(1, d)], 0))
        self.codebook_size = codebook_size  # row of the zero vector that undefined tokens (-1) look up
        self.pos = nn.Embedding(max_len, d)
        nn.init.normal_(self.pos.weight, std=0.02)
        self.norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Sequential(
            nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim)
        )
        self.per_protein = per_protein

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """tokens (B, L) long with −1 for undefined/padding; mask (B, L) bool -> (B, L, out) or (B, out)."""
        t = torch.where(tokens < 0, torch.full_like(tokens, self.codebook_size), tokens)
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        table: Tensor = self.table  # type: ignore[assignment]
        x = self.drop(self.norm(table[t] + self.pos(pos)[None]))
        if self.per_protein:
            m = mask.unsqueeze(-1).float()
            x = (x * m).sum(1) / m.sum(1).clamp(min=1)
        return self.head(x)


def _pad(tokens: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
    n = max(len(t) for t in tokens)
    out = np.full((len(tokens), n), -1, np.int64)
    for i, t in enumerate(tokens):
        out[i, : len(t)] = t
    tt = torch.from_numpy(out)
    mask = torch.zeros(tt.shape, dtype=torch.bool)
    for i, t in enumerate(tokens):
        mask[i, : len(t)] = True
    return tt, mask


def _loss(kind: str, out: Tensor, targets: Sequence[np.ndarray], mask: Tensor) -> Tensor:
    if kind == "protein":
        y = torch.as_tensor(np.asarray(targets, np.int64))
        return nn.functional.cross_entropy(out, y)
    flat = out[mask]
    if kind == "multiclass":
        y = torch.from_numpy(np.concatenate(targets).astype(np.int64))
        ok = y >= 0
        return nn.functional.cross_entropy(flat[ok], y[ok]) if ok.any() else flat.sum() * 0
    if kind == "regression":
        y = torch.from_numpy(np.concatenate(targets).astype(np.float32))
        ok = ~torch.isnan(y)
        return ((flat[ok] - y[ok]) ** 2).mean() if ok.any() else flat.sum() * 0
    # binary: class-weighted BCE per label group, known labels only
    y = torch.from_numpy(np.concatenate(targets).astype(np.float32))
    known = y >= 0
    total = flat.sum() * 0
    groups = 0
    for g in range(y.shape[1]):
        k = known[:, g]
        if not k.any():
            continue
        yy, oo = y[k, g], flat[k, g]
        n, n_pos = yy.numel(), float(yy.sum())
        n_neg = n - n_pos
        w = torch.where(yy > 0, n / (2 * max(n_pos, 1.0)), n / (2 * max(n_neg, 1.0)))
        total = total + nn.functional.binary_cross_entropy_with_logits(oo, yy, weight=w)
        groups += 1
    return total / max(groups, 1)


@torch.no_grad()
def predict(model: ProbeModel, data: ProbeData, *, batch_size: int = 32) -> list[np.ndarray]:
    """Model outputs per chain: (L_i, out) for residue tasks, (out,) for per-protein tasks."""
    model.eval()
    outs: list[np.ndarray] = []
    for s in range(0, len(data), batch_size):
        toks = data.tokens[s : s + batch_size]
        tt, mask = _pad(toks)
        o = model(tt, mask).numpy()
        for i, t in enumerate(toks):
            outs.append(o[i] if model.per_protein else o[i, : len(t)])
    return outs


def _optimizer(model: nn.Module, lr: float, cfg: ProbeConfig) -> torch.optim.Optimizer:
    # StructTokenBench: AdamW (0.9, 0.98), eps 1e-8, no weight decay on bias / LayerNorm
    return adamw_decay_matrices(model, lr=lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98), eps=1e-8)


def train_probe(
    vectors: np.ndarray,
    train: ProbeData,
    valid: ProbeData,
    *,
    kind: str,
    out_dim: int,
    score: Callable[[list[np.ndarray], ProbeData], float],
    lr: float,
    seed: int,
    cfg: ProbeConfig,
) -> tuple[ProbeModel, float]:
    """Train one probe; keep the checkpoint with the best validation ``score`` (higher is better).

    Returns
    -------
    (ProbeModel, float)
        The best-validation model and its validation score (NaN scores count as worst).
    """
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown probe kind {kind!r}")
    if len(train) == 0:
        raise ValueError("empty training set")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster, and leaves cores to other work
    try:
        return _train(
            vectors, train, valid, kind=kind, out_dim=out_dim, score=score, lr=lr, seed=seed, cfg=cfg
        )
    finally:
        torch.set_num_threads(threads)


def _train(
    vectors: np.ndarray,
    train: ProbeData,
    valid: ProbeData,
    *,
    kind: str,
    out_dim: int,
    score: Callable[[list[np.ndarray], ProbeData], float],
    lr: float,
    seed: int,
    cfg: ProbeConfig,
) -> tuple[ProbeModel, float]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ProbeModel(
        vectors,
        out_dim,
        max_len=cfg.max_len,
        hidden=cfg.hidden,
        dropout=cfg.dropout,
        per_protein=kind == "protein",
    )
    opt = _optimizer(model, lr, cfg)
    warmup = min(cfg.warmup, max(1, cfg.steps // 10))

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, functools.partial(warmup_cosine, warmup=warmup, total=cfg.steps)
    )
    bs = cfg.protein_batch_size if kind == "protein" else cfg.batch_size
    best_score, best_state = -math.inf, None
    order = rng.permutation(len(train))
    pos = 0
    for step in range(cfg.steps):
        model.train()
        if pos + bs > len(order):
            order, pos = rng.permutation(len(train)), 0
        idx = order[pos : pos + bs]
        pos += bs
        tt, mask = _pad([train.tokens[i] for i in idx])
        loss = _loss(kind, model(tt, mask), [train.targets[i] for i in idx], mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            s = score(predict(model, valid), valid) if len(valid) else -float(loss.detach())
            s = -math.inf if not np.isfinite(s) else s
            if s > best_score or best_state is None:
                best_score, best_state = s, copy.deepcopy(model.state_dict())
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return model, best_score
