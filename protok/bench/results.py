"""The long-format result record every task emits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Result", "RESULT_COLUMNS"]

RESULT_COLUMNS = ("tokenizer", "task", "split", "metric", "value", "std", "n")


@dataclass(frozen=True)
class Result:
    """One number: ``value`` (mean over seeds where there are seeds) ± ``std`` over ``n`` items/seeds."""

    tokenizer: str
    task: str
    split: str
    metric: str
    value: float
    std: float = float("nan")
    n: int = 0

    def to_dict(self) -> dict:
        return asdict(self)
