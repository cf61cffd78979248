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
