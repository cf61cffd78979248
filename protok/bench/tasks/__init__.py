"""One module per StructTokenBench perspective (plus reconstruction and robustness)."""

from protok.bench.tasks.distinctiveness import distinctiveness
from protok.bench.tasks.effectiveness import EFFECTIVENESS_TASKS, effectiveness
from protok.bench.tasks.efficiency import efficiency
from protok.bench.tasks.reconstruction import reconstruction
from protok.bench.tasks.robustness import robustness, robustness_tokens
from protok.bench.tasks.sensitivity import sensitivity

__all__ = [
    "EFFECTIVENESS_TASKS",
    "distinctiveness",
    "effectiveness",
    "efficiency",
    "reconstruction",
    "robustness",
    "robustness_tokens",
    "sensitivity",
]
