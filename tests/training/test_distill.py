"""Encoder distillation (``[distill] teacher``): a tiny trained teacher, a student with a cheaper encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from protok.errors import ConfigError
from protok.models import load_model
from protok.training import load_config, read_metrics, train
from protok.training.checkpoint import find_latest_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny.toml"


@pytest.fixture(scope="module")
def teacher(mini_promod3: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained for 6 steps: its last checkpoint folder."""
    out = tmp_path_factory.mktemp("teacher")
    train(load_config(TINY_CONFIG, [f'data.promod3="{mini_promod3}"', f'run.out_dir="{out}"']))
    ckpt = find_latest_checkpoint(out)
    assert ckpt is not None
    return ckpt


def _student(teacher: Path, mini_promod3: Path, out: Path, *extra: str) -> list[str]:
    return [
        f'data.promod3="{mini_promod3}"',
        f'run.out_dir="{out}"',
        f'model.preset="{teacher}"',
        f'distill.teacher="{teacher}"',
        "model.encoder.k=4",
        "run.total_steps=12",
        "run.val_every=6",
        *extra,
    ]


def test_student_learns_the_teachers_vectors_with_the_rest_frozen(
    teacher: Path, mini_promod3: Path, tmp_path: Path
) -> None:
    out = tmp_path / "student"
    final = train(load_config(TINY_CONFIG, _student(teacher, mini_promod3, out)))
    rows = read_metrics(out, "train")
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert all(0.0 <= r["stats/disagreement"] <= 1.0 for r in rows)
    losses = [r["loss"] for r in rows]
    for r in rows:
        assert r["loss"] == pytest.approx(r["loss/distill_vector"] + r["loss/distill_code"], rel=1e-5)
    assert sum(losses[-3:]) / 3 < losses[0]
    # validation decodes the student's own tokens, fully discrete
    val = read_metrics(out, "val")
    assert [r["step"] for r in val] == [6, 12] and all(r["val/alpha"] == 1.0 for r in val)

    t, s = load_model(teacher), load_model(final)
    assert s.config.encoder.k == 4 and t.config.encoder.k == 8
    assert s.config.decoder == t.config.decoder and s.config.quantizer == t.config.quantizer
    t_state, s_state = t.state_dict(), s.state_dict()
    shared = [n for n in t_state if not n.startswith("encoder.")]
    assert shared and all(torch.equal(s_state[n], t_state[n]) for n in shared)
    # the encoder started from the teacher's (same shapes) and moved
    enc = [n for n in t_state if n.startswith("encoder.") and t_state[n].is_floating_point()]
    assert any(not torch.equal(s_state[n], t_state[n]) for n in enc)


def test_distillation_resumes_exactly(teacher: Path, mini_promod3: Path, tmp_path: Path) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    train(load_config(TINY_CONFIG, _student(teacher, mini_promod3, full)))
    train(load_config(TINY_CONFIG, _student(teacher, mini_promod3, part, "run.stop_at=6")))
    train(load_config(TINY_CONFIG, _student(teacher, mini_promod3, part)), resume=True)
    loss = [(r["step"], r["loss"]) for r in read_metrics(full, "train")]
    assert [(r["step"], r["loss"]) for r in read_metrics(part, "train")] == loss


def test_student_must_share_everything_but_the_encoder(
    teacher: Path, mini_promod3: Path, tmp_path: Path
) -> None:
    cfg = load_config(
        TINY_CONFIG, _student(teacher, mini_promod3, tmp_path / "s", "model.decoder.ffn_mult=4")
    )
    with pytest.raises(ConfigError, match="only the encoder may differ"):
        train(cfg)


def test_a_model_name_is_a_preset(teacher: Path, mini_promod3: Path) -> None:
    cfg = load_config(TINY_CONFIG, [f'data.promod3="{mini_promod3}"', f'model.preset="{teacher}"'])
    assert cfg.model.decoder == load_model(teacher).config.decoder
    assert cfg.model.name == "protok-tiny"  # the config's own [model] keys still apply on top
    with pytest.raises(ConfigError, match="neither a preset"):
        load_config(TINY_CONFIG, [f'data.promod3="{mini_promod3}"', 'model.preset="no-such-model"'])


def test_code_loss_is_scale_free_and_asks_for_the_teachers_cell() -> None:
    from protok.training.distill import code_loss

    g = torch.Generator().manual_seed(0)
    codes = torch.randn(16, 8, generator=g)
    teacher = codes[torch.arange(40) % 16] + 0.3 * torch.randn(40, 8, generator=g)
    right = teacher + 0.05 * torch.randn(40, 8, generator=g)
    wrong = codes[(torch.arange(40) + 5) % 16]
    assert code_loss(right, teacher, codes, 1.0) < code_loss(wrong, teacher, codes, 1.0)
    for scale in (0.01, 100.0):
        scaled = code_loss(right * scale, teacher * scale, codes * scale, 1.0)
        assert scaled.item() == pytest.approx(code_loss(right, teacher, codes, 1.0).item(), rel=1e-4)
    student = right.clone().requires_grad_(True)
    code_loss(student, teacher, codes, 0.5).backward()
    assert student.grad is not None and torch.isfinite(student.grad).all()
    assert code_loss(right[:0], teacher[:0], codes, 1.0).item() == 0.0
