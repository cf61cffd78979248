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
