"""benchmarks/collapse_scan.py on the committed v1 learning curves."""

from __future__ import annotations

import json
from pathlib import Path

CURVES = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "training_small_v1.csv"


def test_finds_the_v1_provq_collapse_and_its_hardness(benchmark_script) -> None:
    scan = benchmark_script("collapse_scan")
    runs = scan.csv_runs(CURVES)
    assert set(runs) == {"provq_small_v1", "vq_small_v1", "aminoaseed_small_v1"}
    events = scan.collapses(runs["provq_small_v1"])
    first = events[0]
    # Usage fell from about half the codes to a quarter at step 1,140, at hardness 0.86.
    assert first["step"] == 1140 and 0.86 <= first["alpha"] <= 0.87
    assert first["usage"] < 0.5 * first["usage_before"]
    assert first["recovered_at"] is not None and first["recovered_at"] > first["step"]
    assert all(e["alpha"] is None for e in scan.collapses(runs["vq_small_v1"]))


def test_a_steady_run_has_none_and_resumed_steps_count_once(benchmark_script, tmp_path: Path) -> None:
    scan = benchmark_script("collapse_scan")
    rows = [{"split": "train", "step": s, "stats/usage": 0.5} for s in range(10, 400, 10)]
    rows += [
        {"split": "train", "step": 200, "stats/usage": 0.5},
        {"split": "val", "step": 200, "val/tm": 0.3},
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    parsed = scan.train_rows(tmp_path)
    assert [r["step"] for r in parsed] == list(range(10, 400, 10))
    assert scan.collapses(parsed) == []
    parsed[20]["stats/usage"] = 0.1
    (event,) = scan.collapses(parsed)
    assert event["step"] == parsed[20]["step"] and event["recovered_at"] == parsed[21]["step"]
