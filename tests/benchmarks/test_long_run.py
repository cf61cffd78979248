"""benchmarks/long_run.py: the plateau test and the curve of a run with a fine-tune phase."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _write_rows(run_dir: Path, rows: list[dict]) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_plateau_compares_the_last_fifth_with_the_step_before_it(benchmark_script) -> None:
    lr = benchmark_script("long_run")
    val = [
        {"step": s, "val/tm_median": tm}
        for s, tm in [(1000, 0.3), (8000, 0.60), (9000, 0.605), (10000, 0.604)]
    ]
    got = lr.plateau(val)
    assert got == {"gain": pytest.approx(0.005), "from_step": 8000, "plateau": True}
    val[-1]["val/tm_median"] = 0.62
    assert lr.plateau(val)["plateau"] is False


def test_fine_tune_rows_follow_the_parent_up_to_the_phase_start(benchmark_script, tmp_path: Path) -> None:
    lr = benchmark_script("long_run")
    parent, child = tmp_path / "parent", tmp_path / "child"
    _write_rows(
        parent, [{"split": "val", "step": s, "val/tm_median": 0.1 * s / 100} for s in (100, 200, 300)]
    )
    _write_rows(child, [{"split": "val", "step": s, "val/tm_median": 0.5} for s in (250, 300, 400)])
    rows = lr.lineage_rows(child, parent, 200)
    assert [(r["step"], r["val/tm_median"]) for r in rows] == [
        (100, 0.1),
        (200, 0.2),
        (250, 0.5),
        (300, 0.5),
        (400, 0.5),
    ]
    assert lr.lineage_rows(child, None, None) == lr._rows(child)
    with pytest.raises(SystemExit, match="not warm-started"):
        lr.lineage_rows(child, parent, None)


@pytest.mark.parametrize("weights_only", [False, True])
def test_snapshot_packs_the_latest_checkpoint_and_weights_only_leaves_the_optimizer_out(
    benchmark_script, tmp_path: Path, monkeypatch, weights_only: bool
) -> None:
    import tarfile

    lr = benchmark_script("long_run")
    monkeypatch.setattr(lr, "STATE_DIR", tmp_path / "state")
    monkeypatch.setattr(lr, "CURVE_DIR", tmp_path / "curves")
    run = tmp_path / "run"
    rows = [{"split": "train", "step": s, "loss": 1.0 / s, "cpu_s": 3.6 * s} for s in (10, 20)]
    _write_rows(run, rows + [{"split": "val", "step": 20, "val/tm_median": 0.5, "val/rmsd_median": 9.0}])
    ckpt = run / "checkpoints" / "step_00000020"
    ckpt.mkdir(parents=True)
    for name in ("model.safetensors", "optimizer.safetensors", "rng.safetensors", "config.json"):
        (ckpt / name).write_bytes(name.encode())
    (ckpt / "trainer_state.json").write_text(json.dumps({"step": 20}))
    (run / "checkpoints" / "latest.json").write_text(json.dumps({"path": "step_00000020"}))
    lr.snapshot("demo", run, "configs/x.toml", 0.01, weights_only=weights_only)
    with tarfile.open(tmp_path / "state" / "demo.tar") as tar:
        names = set(tar.getnames())
    with open(tmp_path / "state" / "demo.tar", "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == weights_only  # gzip magic: the weights-only file is compressed
    packed = {n.rsplit("/", 1)[1] for n in names if n.startswith("checkpoints/step_00000020/")}
    want = {"model.safetensors", "rng.safetensors", "config.json", "trainer_state.json"}
    assert packed == (want if weights_only else want | {"optimizer.safetensors"})
    assert {"metrics.jsonl", "checkpoints/latest.json"} <= names
    summary = json.loads((tmp_path / "curves" / "demo.json").read_text())
    assert summary["step"] == 20
    resume = "--set run.init_from=runs/long/demo/checkpoints/step_00000020" if weights_only else "--resume"
    assert resume in summary["command"]
    lr.restore("demo", tmp_path / "restored")
    assert (tmp_path / "restored" / "checkpoints" / "step_00000020" / "model.safetensors").read_bytes() == (
        b"model.safetensors"
    )
