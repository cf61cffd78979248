"""The recipe tournament's bookkeeping: plan.json merges what concurrent instances write."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "recipe_tournament", REPO / "benchmarks" / "recipe_tournament.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_plan_updates_merge_with_what_another_instance_wrote(tmp_path: Path) -> None:
    rt = _script()
    path = tmp_path / "plan.json"
    a = rt._update_plan(path)  # a scoring instance reads first ...
    assert a == {"plan": {}, "commands": []} and path.exists()
    rt._update_plan(path, plan={"x": {"steps": 10, "cpu_ratio": 1.0}})  # ... a training instance writes ...
    rt._update_plan(path, commands=[{"variant": "x", "command": "train x"}, {"variant": "y", "command": "?"}])
    before = path.read_text()
    b = rt._update_plan(path)  # ... and a read-only update writes nothing and loses nothing
    assert path.read_text() == before
    assert b["plan"] == {"x": {"steps": 10, "cpu_ratio": 1.0}}
    assert b["commands"] == [{"variant": "x", "command": "train x"}]  # commands only of planned variants
    rt._update_plan(path, plan={"y": {"steps": 5, "cpu_ratio": 2.0}})
    assert [c["variant"] for c in json.loads(path.read_text())["commands"]] == ["x"]


def test_report_keeps_rows_and_curves_of_runs_whose_folders_are_gone(tmp_path: Path) -> None:
    rt = _script()
    out, runs = tmp_path / "out", tmp_path / "runs"
    (out / "eval").mkdir(parents=True)
    (runs / "x").mkdir(parents=True)
    base = {"3di": {"ss3_f1": 0.8, "noise_flip": 0.2}, "random": {"ss3_f1": 0.7}}
    (out / "baselines.json").write_text(json.dumps({"baselines": base}))
    metrics = [{"split": "train", "step": s, "cpu_s": 2.0 * s, "loss": 1.0} for s in range(10, 101, 10)]
    metrics += [{"split": "val", "step": s, "val/rmsd_median": 10.0 - s / 50, "val/tm_median": s / 400}
                for s in (50, 100)]  # fmt: skip
    (runs / "x" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in metrics))
    part = {"rmsd": 9.0, "tm": 0.3, "lddt": 0.4, "caca_ok": 0.5}
    ev = {"continuous_decode": False, "whole": part, "crop128": part, "usage": 0.9, "perplexity": 300.0,
          "ss3_f1": 0.75, "noise_flip": 0.25}  # fmt: skip
    (out / "eval" / "x.json").write_text(json.dumps(ev))
    plan = {"x": {"steps": 100, "cpu_ratio": 1.0}}
    commands = [{"variant": "x", "command": "train x"}]
    rt.report(out, runs, plan, commands, {})
    first = (out / "results.csv").read_text()
    saved = [json.loads(line) for line in (out / "eval" / "x.curve.jsonl").read_text().splitlines()]
    assert [(r["split"], r["step"]) for r in saved] == [
        ("train", 50),
        ("train", 100),
        ("val", 50),
        ("val", 100),
    ]
    assert "x,100,0.056," in first  # steps and CPU hours of the last training row
    (runs / "x" / "metrics.jsonl").unlink()  # the run folder is gone: the saved curve stands in
    (out / "results.csv").unlink()
    rt.report(out, runs, plan, commands, {})
    assert (out / "results.csv").read_text() == first
    assert (out / "curves.png").stat().st_size > 0
