"""End-to-end training on the tiny config: CLI run, exact resume, DDP with 2 gloo processes."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from protok.cli.main import cli
from protok.errors import CheckpointError
from protok.models import load_model
from protok.training import load_config, read_metrics, train
from protok.training.checkpoint import find_latest_checkpoint, load_trainer_state
from protok.training.release import release_model

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny.toml"


def _losses(out_dir: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_metrics(out_dir, "train")]


def test_cli_tiny_run_finishes(tiny_overrides: list[str], tmp_path: Path) -> None:
    args = ["train", str(TINY_CONFIG)]
    for o in tiny_overrides:
        args += ["--set", o]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    ckpt = find_latest_checkpoint(run)
    assert ckpt is not None and ckpt.name == "step_00000006"
    assert str(ckpt) in result.output
    for name in ("model.safetensors", "optimizer.safetensors", "rng.safetensors", "config.json"):
        assert (ckpt / name).is_file()
    state = load_trainer_state(ckpt)
    assert state["step"] == 6
    assert state["config"]["run"]["total_steps"] == 6
    assert state["config"]["model"]["quantizer"]["codebook_size"] == 16
    # train rows every step, validation at steps 3 and 6 with the reconstruction metrics
    assert [s for s, _ in _losses(run)] == [1, 2, 3, 4, 5, 6]
    val = read_metrics(run, "val")
    assert [r["step"] for r in val] == [3, 6]
    for key in ("val/rmsd_median", "val/tm_median", "val/lddt_median", "val/usage", "val/perplexity"):
        assert val[-1][key] is not None and val[-1][key] == val[-1][key]  # present and not NaN
    assert 0.0 < val[-1]["val/tm_median"] <= 1.0
    assert (run / "metrics.csv").read_text().count("\n") == 7  # header + 6 rows
    # only latest (+ best) checkpoints are kept
    kept = sorted(p.name for p in (run / "checkpoints").iterdir() if p.is_dir())
    assert set(kept) <= {"step_00000003", "step_00000006"} and "step_00000006" in kept

    # release the run as a named model: weights only, card with the command, refused when the name exists
    cmd = "protok train configs/tiny.toml"
    evaluation = {
        "chains": 2,
        "median": {"ca_rmsd": 9.5, "tm": 0.3},
        "command": "evaluate it",
        "validity": {
            "idealized": {"caca_ok": 0.995, "clashes_per_residue": 0.01},
            "input": {"caca_ok": 0.998, "clashes_per_residue": 0.0},
        },
        "robustness": {
            "noise": {"sigma": 0.1, "model": {"share": 0.2}, "3di": {"share": 0.18}},
            "rotated_pdb": {
                "model": {"changed": 3, "compared": 1200},
                "3di": {"changed": 1, "compared": 1200},
            },
        },
    }
    out = release_model(
        run, "tiny-v0", evaluation=evaluation, weights_dir=tmp_path / "w", command=cmd, note="a test"
    )
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "config.json", "model.safetensors"]
    card = json.loads((out / "config.json").read_text())["card"]
    assert card["training"]["steps"] == 6 and card["training"]["command"] == cmd
    md = (out / "MODEL_CARD.md").read_text()
    assert f"Trained with `{cmd}`; a test" in md and "| 9.50 |" in md and "Reproduce: `evaluate it`" in md
    assert "99.5 % of consecutive CA-CA distances" in md and "(input chains 99.8 %)" in md
    assert "noise: 20.0 % (3Di 18.0 %)" in md and "3 of 1,200 (3Di 1 of 1,200)" in md
    assert card["training"]["cpu_hours"] == round(state["cpu_s"] / 3600, 2)
    assert "CPU-hours of training steps" in md
    reloaded = load_model(out)
    assert all(
        torch.equal(a, b)
        for a, b in zip(reloaded.state_dict().values(), load_model(ckpt).state_dict().values())
    )
    with pytest.raises(CheckpointError, match="frozen"):
        release_model(run, "tiny-v0", weights_dir=tmp_path / "w")


def test_resume_is_exact(tiny_overrides: list[str], tmp_path: Path) -> None:
    full_dir = tmp_path / "full"
    part_dir = tmp_path / "part"
    base = [o for o in tiny_overrides if not o.startswith("run.out_dir")]
    train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{full_dir}"']))
    # the same run, stopped after step 3, then resumed to the end
    train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{part_dir}"', "run.stop_at=3"]))
    assert [s for s, _ in _losses(part_dir)] == [1, 2, 3]
    final = train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{part_dir}"']), resume=True)
    assert final.name == "step_00000006"
    full, part = _losses(full_dir), _losses(part_dir)
    assert [s for s, _ in part] == [1, 2, 3, 4, 5, 6]
    assert part == full  # bit-identical losses
    w_full = load_file(str(full_dir / "checkpoints" / "step_00000006" / "model.safetensors"))
    w_part = load_file(str(final / "model.safetensors"))
    assert w_full.keys() == w_part.keys()
    for k in w_full:
        assert torch.equal(w_full[k], w_part[k]), k
    vf, vp = read_metrics(full_dir, "val"), read_metrics(part_dir, "val")
    assert vf == vp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, cfg_path: str, overrides: list[str], out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from safetensors.torch import save_file

    from protok.training.distributed import cleanup_distributed
    from protok.training.loop import Trainer

    trainer = Trainer(load_config(cfg_path, overrides))
    try:
        trainer.fit()
        state = {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
        save_file(state, os.path.join(out, f"rank{rank}.safetensors"))
    finally:
        cleanup_distributed()


def test_ddp_two_gloo_ranks_stay_identical(tiny_overrides: list[str], tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    overrides = [*tiny_overrides, "run.total_steps=4", "run.val_every=0", "run.ckpt_every=2"]
    # fork: the children inherit the imported modules (spawn would re-import torch in each process)
    mp.start_processes(
        _ddp_worker,
        args=(2, _free_port(), str(TINY_CONFIG), overrides, str(tmp_path)),
        nprocs=2,
        join=True,
        start_method="fork",
    )
    r0 = load_file(str(tmp_path / "rank0.safetensors"))
    r1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"{k} differs between ranks"
    cb = [k for k in r0 if "quantizer" in k]
    assert cb, "the model has quantizer state to compare"
    run = tmp_path / "run"
    state = json.loads((find_latest_checkpoint(run) / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["step"] == 4
    rows = read_metrics(run, "train")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # only rank 0 wrote


def test_non_finite_step_is_skipped_on_all_parameters(tiny_overrides: list[str], tmp_path: Path) -> None:
    from protok.models import ProtokModel
    from protok.training.loop import Trainer

    class NanOnSecondStep(ProtokModel):
        calls = 0

        def forward(self, batch, progress=1.0):  # type: ignore[override]
            out = super().forward(batch, progress)
            if self.training:
                NanOnSecondStep.calls += 1
                if NanOnSecondStep.calls == 2:
                    out.loss = out.loss * float("nan")
            return out

    cfg = load_config(TINY_CONFIG, [*tiny_overrides, "run.total_steps=3", "run.val_every=0"])
    trainer = Trainer(cfg, model_factory=NanOnSecondStep)
    trainer.fit()
    rows = read_metrics(tmp_path / "run", "train")
    assert [r["skipped_steps"] for r in rows] == [0, 1, 1]
    assert rows[1]["loss"] is None  # NaN written as null, not dropped
    assert rows[2]["loss"] == rows[2]["loss"]


def test_tiny_run_with_consistency_and_token_local_terms(tiny_overrides: list[str], tmp_path: Path) -> None:
    """Both optional terms on: logged, checkpointed with the head, exactly resumed, released without it."""
    from protok.graph import build_graph
    from protok.structures import read_structure

    aux = ["model.loss.consistency_weight=1.0", "model.loss.token_local_weight=1.0"]
    base = [o for o in tiny_overrides if not o.startswith("run.out_dir")] + aux
    full_dir, part_dir = tmp_path / "full", tmp_path / "part"
    train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{full_dir}"']))
    train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{part_dir}"', "run.stop_at=3"]))
    final = train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{part_dir}"']), resume=True)
    assert _losses(part_dir) == _losses(full_dir)  # the noise stream resumes too
    rows = read_metrics(full_dir, "train")
    for key in ("loss/consistency", "stats/consistency_flips", "loss/token_local"):
        assert all(r[key] is not None for r in rows), key
    assert all(0.0 <= r["stats/consistency_flips"] <= 1.0 for r in rows)
    weights = load_file(str(final / "model.safetensors"))
    assert any(k.startswith("token_local_head.") for k in weights)
    w_full = load_file(str(full_dir / "checkpoints" / "step_00000006" / "model.safetensors"))
    assert all(torch.equal(w_full[k], weights[k]) for k in weights)

    out = release_model(part_dir, "tiny-aux-v0", weights_dir=tmp_path / "w")
    shipped = load_file(str(out / "model.safetensors"))
    assert not any(k.startswith("token_local_head.") for k in shipped)
    assert shipped.keys() == {k for k in weights if not k.startswith("token_local_head.")}
    g = build_graph(read_structure(REPO / "structures" / "1ubi.pdb").chains[0], k=8)
    want = load_model(final).encode(g)
    assert torch.equal(load_model(out, inference=True).encode(g), want)
    assert torch.equal(load_model(out).encode(g), want)


def test_resume_warns_only_about_run_fields_that_changed(
    tiny_overrides: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A run field added after a checkpoint was saved, left at its default, is no change; a changed one is."""
    from protok.training.loop import Trainer

    trainer = Trainer(load_config(TINY_CONFIG, tiny_overrides))
    saved = trainer.config.to_dict()
    del saved["run"]["init_from"]
    with caplog.at_level("WARNING", logger="protok.training.loop"):
        trainer._check_resume_config(saved, Path("ckpt"))
    assert "resume:" not in caplog.text
    saved["run"]["log_every"] = 7
    with caplog.at_level("WARNING", logger="protok.training.loop"):
        trainer._check_resume_config(saved, Path("ckpt"))
    assert "resume: run.log_every changed from 7" in caplog.text


def test_resume_accepts_checkpoints_saved_before_optional_model_fields(tiny_overrides: list[str]) -> None:
    """A checkpoint's [model] config without the fields added since (their defaults) still resumes; a
    changed value does not."""
    from protok.training.loop import Trainer

    trainer = Trainer(load_config(TINY_CONFIG, tiny_overrides))
    saved = trainer.config.to_dict()
    for key in ("consistency_weight", "consistency_noise", "token_local_weight", "token_local_hidden"):
        del saved["model"]["loss"][key]
    trainer._check_resume_config(saved, Path("ckpt"))
    saved["model"]["loss"]["local_weight"] = 0.5
    with pytest.raises(CheckpointError, match="differs"):
        trainer._check_resume_config(saved, Path("ckpt"))


def test_warm_start_continues_schedule_with_a_new_head(tiny_overrides: list[str], tmp_path: Path) -> None:
    """``run.init_from``: weights and step of a checkpoint, a new training-only head, the learning rate
    re-warmed from the checkpoint's step; the warm-started run resumes exactly."""
    base = [o for o in tiny_overrides if not o.startswith("run.out_dir")]
    src_dir = tmp_path / "src"
    train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{src_dir}"', "run.stop_at=3"]))
    src = find_latest_checkpoint(src_dir)
    assert src is not None and src.name == "step_00000003"
    warm = [*base, f'run.init_from="{src}"', "model.loss.token_local_weight=1.0"]
    full_dir, part_dir = tmp_path / "full", tmp_path / "part"
    final = train(load_config(TINY_CONFIG, [*warm, f'run.out_dir="{full_dir}"']))
    assert final.name == "step_00000006"
    rows = read_metrics(full_dir, "train")
    assert [r["step"] for r in rows] == [4, 5, 6]
    assert all(r["loss/token_local"] is not None for r in rows)
    cfg = load_config(TINY_CONFIG, warm).optim  # warmup_steps = 2: half, then the schedule's own value
    from protok.training.loop import lr_at

    assert rows[0]["lr"] == pytest.approx(0.5 * lr_at(3, cfg, 6))
    assert rows[1]["lr"] == pytest.approx(lr_at(4, cfg, 6))
    src_state = load_trainer_state(src)
    assert load_trainer_state(final)["cpu_s"] > src_state["cpu_s"] > 0
    # without the head, the first warm-started step sees the source's weights on the same batch as a
    # plain continuation does: the same loss before the (different, fresh) optimizer step
    plain_dir, nohead_dir = tmp_path / "plain", tmp_path / "nohead"
    train(load_config(TINY_CONFIG, [*base, f'run.out_dir="{plain_dir}"']))
    train(load_config(TINY_CONFIG, [*base, f'run.init_from="{src}"', f'run.out_dir="{nohead_dir}"']))
    plain, nohead = dict(_losses(plain_dir)), dict(_losses(nohead_dir))
    assert nohead[4] == pytest.approx(plain[4], rel=1e-6)
    assert nohead[6] != plain[6]

    train(load_config(TINY_CONFIG, [*warm, f'run.out_dir="{part_dir}"', "run.stop_at=4"]))
    train(load_config(TINY_CONFIG, [*warm, f'run.out_dir="{part_dir}"']), resume=True)
    assert _losses(part_dir) == _losses(full_dir)

    with pytest.raises(Exception, match="not before run.total_steps"):
        train(load_config(TINY_CONFIG, [*warm, f'run.out_dir="{tmp_path / "late"}"', "run.total_steps=3"]))
