"""Benchmark suites as data: how much of each data set, how many probe steps, pairs and seeds.

Sizes are set by the CPU cost measured on the 2-core development machine: a probe step (batch of 8 chains,
MLP 512) costs about 50 ms of CPU time, and the small protok encoder about 1 ms of CPU per residue.
``quick`` (80 steps, batch 4) is sized for about 10 minutes on 2 cores with three protok checkpoints and the
four baselines; ``full`` (300 steps, 3 learning rates, 3 seeds) for about 30-40 minutes with
``--workers 2``. Both are CPU-sized: StructTokenBench itself trains 10,000 steps per probe on a GPU.
``smoke`` is a minimal subset for trying the command.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from protok.bench.probe import ProbeConfig
from protok.errors import ConfigError

__all__ = ["SuiteConfig", "SUITES", "get_suite", "LIGANDS"]

#: Ligand groups of ``binding.tsv``.
LIGANDS: tuple[str, ...] = ("ZN", "CA", "MG", "MN", "ATP", "HEM", "DNA", "RNA", "PEP", "PRO")


@dataclass(frozen=True)
class SuiteConfig:
    """What one benchmark run uses.

    Attributes
    ----------
    n_scop : int
        SCOP-labelled chains for the residue tasks (DSSP, RSA, depth) and fold classification, taken from
        the most populated folds first, at most ``max_per_fold`` per fold.
    n_binding : int
        Chains with binding labels.
    n_flex_files : int
        Full-atom files (theseus examples) for B-factor regression (0 = skip the task).
    min_len, max_len : int
        Chain length range; longer chains are excluded (counted), never truncated.
    min_fold_size : int
        Folds with fewer training chains are left out of fold classification.
    n_pairs, n_robust, n_recon : int
        Structure pairs (sensitivity), chains (robustness), chains (reconstruction).
    """

    name: str
    n_scop: int
    n_binding: int
    n_flex_files: int
    n_pairs: int
    n_robust: int
    n_recon: int
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    max_per_fold: int = 10**9
    min_len: int = 40
    max_len: int = 512
    min_fold_size: int = 3
    noise_levels: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5)
    ligands: tuple[str, ...] = LIGANDS
    seed: int = 42

    def data_params(self) -> dict:
        """The parameters that decide the prepared data set (the cache key part)."""
        return {
            k: getattr(self, k)
            for k in (
                "n_scop",
                "n_binding",
                "n_flex_files",
                "max_per_fold",
                "min_len",
                "max_len",
                "ligands",
                "seed",
            )
        }


SUITES: dict[str, SuiteConfig] = {
    "smoke": SuiteConfig(
        name="smoke",
        n_scop=80,
        n_binding=60,
        n_flex_files=20,
        n_pairs=12,
        n_robust=6,
        n_recon=4,
        max_per_fold=8,
        max_len=300,
        min_fold_size=2,
        probe=ProbeConfig(steps=20, lrs=(1e-3, 1e-4), seeds=3, eval_every=10, max_len=300),
    ),
    "quick": SuiteConfig(
        name="quick",
        n_scop=400,
        n_binding=300,
        n_flex_files=40,
        n_pairs=60,
        n_robust=30,
        n_recon=30,
        max_per_fold=30,
        max_len=400,
        probe=ProbeConfig(
            steps=80,
            batch_size=4,
            protein_batch_size=16,
            lrs=(1e-3, 1e-4),
            seeds=3,
            eval_every=40,
            max_len=400,
        ),
    ),
    "full": SuiteConfig(
        name="full",
        n_scop=1500,
        n_binding=600,
        n_flex_files=300,
        n_pairs=300,
        n_robust=60,
        n_recon=60,
        max_per_fold=60,
        max_len=512,
        probe=ProbeConfig(steps=300, lrs=(1e-2, 1e-3, 1e-4), seeds=3, eval_every=100, max_len=512),
    ),
}


def get_suite(name: str, **overrides) -> SuiteConfig:
    """A named suite, optionally with fields replaced."""
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}: choose from {sorted(SUITES)}")
    return replace(SUITES[name], **overrides) if overrides else SUITES[name]
