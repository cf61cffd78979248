"""Per-step metrics files of a run: ``metrics.jsonl`` (every row) and ``metrics.csv`` / ``val_metrics.csv``.

Each row is a flat dict with ``split`` ("train" or "val") and ``step``. The JSONL file holds every key of
every row; the CSV files get a header from the union of keys seen (the file is rewritten from the JSONL
when a new key appears, so no column is lost). Only rank 0 writes. On resume, rows after the resumed
step (from the interrupted run) are removed first, so the files read like one uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["MetricsLogger", "read_metrics"]

_CSV_NAMES = {"train": "metrics.csv", "val": "val_metrics.csv"}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else str(v)
    return v


def read_metrics(out_dir: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``out_dir/metrics.jsonl`` (optionally only one ``split``)."""
    path = Path(out_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if split is None or r.get("split") == split]


class MetricsLogger:
    """Append metric rows to the run folder.

    Parameters
    ----------
    out_dir : path
    enabled : bool
        False on ranks other than 0 (everything becomes a no-op).
    resume_step : int or None
        When resuming, drop rows with ``step > resume_step`` left by the interrupted run.
    """

    def __init__(self, out_dir: str | Path, enabled: bool = True, resume_step: int | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self._headers: dict[str, list[str]] = {}
        if not enabled:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.out_dir / "metrics.jsonl"
        rows = read_metrics(self.out_dir) if resume_step is not None else []
        if resume_step is not None:
            rows = [r for r in rows if int(r.get("step", 0)) <= resume_step]
        self._rewrite_jsonl(rows)
        for split in _CSV_NAMES:
            self._rewrite_csv(split, [r for r in rows if r.get("split") == split])

    def _rewrite_jsonl(self, rows: list[dict[str, Any]]) -> None:
        tmp = self.jsonl.with_name(".metrics.jsonl.tmp")
        with open(tmp, "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        os.replace(tmp, self.jsonl)

    def _rewrite_csv(self, split: str, rows: list[dict[str, Any]]) -> None:
        header: list[str] = []
        for r in rows:
            header += [k for k in r if k not in header]
        self._headers[split] = header
        path = self.out_dir / _CSV_NAMES[split]
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", newline="") as fh:
            if header:
                w = csv.DictWriter(fh, fieldnames=header)
                w.writeheader()
                w.writerows(rows)
        os.replace(tmp, path)

    def log(self, row: dict[str, Any]) -> None:
        """Append one row (must contain ``split`` and ``step``)."""
        if not self.enabled:
            return
        row = {k: _clean(v) for k, v in row.items()}
        with open(self.jsonl, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        split = str(row.get("split", "train"))
        if split not in _CSV_NAMES:
            return
        header = self._headers.get(split, [])
        if not header or any(k not in header for k in row):
            self._rewrite_csv(split, read_metrics(self.out_dir, split))
            return
        with open(self.out_dir / _CSV_NAMES[split], "a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=header).writerow(row)
