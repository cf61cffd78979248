"""Checkpoint files: pickle-free optimizer state, RNG capture, atomic replace and pruning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from protok.errors import CheckpointError
from protok.training.checkpoint import (
    find_latest_checkpoint,
    flatten_optimizer_state,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    unflatten_optimizer_state,
)
from protok.training.config import OptimConfig
from protok.training.loop import build_optimizer, lr_at


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.gen = torch.Generator().manual_seed(1)  # a module-held generator, like the quantizers'


def _trained() -> tuple[_Net, torch.optim.Optimizer]:
    torch.manual_seed(0)
    net = _Net()
    opt = build_optimizer(net, OptimConfig(lr=1e-2))
    for _ in range(3):
        opt.zero_grad()
        net.lin(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
    return net, opt


def test_optimizer_state_round_trips_without_pickle() -> None:
    _, opt = _trained()
    sd = opt.state_dict()
    tensors, meta = flatten_optimizer_state(sd)
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    json.dumps(meta)  # JSON-able
    back = unflatten_optimizer_state(tensors, meta)
    assert back["param_groups"] == sd["param_groups"]
    for pid, st in sd["state"].items():
        for k, v in st.items():
            assert torch.equal(back["state"][pid][k], v)


def test_save_load_restores_weights_optimizer_and_rng(tmp_path: Path) -> None:
    net, opt = _trained()
    net.gen.manual_seed(7)
    torch.randn(3, generator=net.gen)
    rng = rng_state(torch.device("cpu"), net)
    expected_gen = torch.randn(4, generator=net.gen)
    expected_global = torch.randn(4)
    path = save_checkpoint(tmp_path, model=net, optimizer=opt, step=3, state={"config": {}}, rng_states=[rng])
    assert path.name == "step_00000003"
    assert find_latest_checkpoint(tmp_path) == path

    torch.manual_seed(123)
    fresh = _Net()
    fresh_opt = build_optimizer(fresh, OptimConfig(lr=1e-2))
    state = load_checkpoint(path, model=fresh, optimizer=fresh_opt, rank=0, device=torch.device("cpu"))
    assert state["step"] == 3
    assert torch.equal(fresh.lin.weight, net.lin.weight)
    assert torch.equal(torch.randn(4, generator=fresh.gen), expected_gen)
    assert torch.equal(torch.randn(4), expected_global)
    for a, b in zip(fresh_opt.state_dict()["state"].values(), opt.state_dict()["state"].values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"])


def test_only_latest_and_best_are_kept(tmp_path: Path) -> None:
    net, opt = _trained()
    rng = [rng_state(torch.device("cpu"))]
    save_checkpoint(tmp_path, model=net, optimizer=opt, step=1, state={}, rng_states=rng, is_best=True)
    save_checkpoint(tmp_path, model=net, optimizer=opt, step=2, state={}, rng_states=rng)
    save_checkpoint(tmp_path, model=net, optimizer=opt, step=3, state={}, rng_states=rng)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["best.json", "latest.json", "step_00000001", "step_00000003"]
    # re-saving the same step replaces it atomically
    save_checkpoint(tmp_path, model=net, optimizer=opt, step=3, state={"x": 1}, rng_states=rng)
    assert (
        json.loads((tmp_path / "checkpoints" / "step_00000003" / "trainer_state.json").read_text())["x"] == 1
    )


def test_broken_checkpoints_raise_checkpoint_error(tmp_path: Path) -> None:
    net, opt = _trained()
    path = save_checkpoint(
        tmp_path, model=net, optimizer=opt, step=1, state={}, rng_states=[rng_state(torch.device("cpu"))]
    )
    other = nn.Linear(5, 3)
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_checkpoint(path, model=other, optimizer=None, rank=0, device=torch.device("cpu"))
    (path / "trainer_state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path, model=net, optimizer=None, rank=0, device=torch.device("cpu"))
    (path / "trainer_state.json").unlink()
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        find_latest_checkpoint(tmp_path)
    assert find_latest_checkpoint(tmp_path / "nothing") is None


def test_lr_schedule_warmup_then_cosine() -> None:
    cfg = OptimConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, cfg, 110) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lr_at(110, cfg, 110) == pytest.approx(0.1)
