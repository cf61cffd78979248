"""Structure-comparison metrics, implemented once and shared by training, the tokenizer API and the benchmark.

All functions take numpy arrays or (batched, masked) torch tensors and return the same kind.
"""

from protok.metrics.lddt import LDDT_THRESHOLDS, lddt_ca
from protok.metrics.rmsd import backbone_rmsd, ca_rmsd, kabsch, kabsch_align, rmsd
from protok.metrics.tm import tm_d0, tm_score

__all__ = [
    "LDDT_THRESHOLDS",
    "backbone_rmsd",
    "ca_rmsd",
    "kabsch",
    "kabsch_align",
    "lddt_ca",
    "rmsd",
    "tm_d0",
    "tm_score",
]
