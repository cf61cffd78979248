"""protok.bench: a StructTokenBench-style harness scoring tokenizers side by side on real data.

>>> from protok.bench import build_adapter, get_suite, run_bench   # doctest: +SKIP
>>> run_bench([build_adapter("3di", "3di")], get_suite("quick"), "bench_out")   # doctest: +SKIP
"""

from protok.bench.adapters import (
    AminoAcidAdapter,
    DSSPAdapter,
    ProtokAdapter,
    RandomCodebookAdapter,
    ThreeDiAdapter,
    TokenizerAdapter,
    available_adapters,
    build_adapter,
    default_tokenizers,
    parse_tokenizer_specs,
    register_adapter,
)
from protok.bench.cache import ArrayCache
from protok.bench.dataset import BenchDataset, prepare_dataset
from protok.bench.item import BenchItem
from protok.bench.probe import ProbeConfig
from protok.bench.results import Result
from protok.bench.runner import run_bench, tokenize_dataset
from protok.bench.sources import promod3_item
from protok.bench.splits import Split, scop_split, sequence_split
from protok.bench.suites import SUITES, SuiteConfig, get_suite

__all__ = [
    "AminoAcidAdapter",
    "ArrayCache",
    "BenchDataset",
    "BenchItem",
    "DSSPAdapter",
    "ProbeConfig",
    "ProtokAdapter",
    "RandomCodebookAdapter",
    "Result",
    "SUITES",
    "Split",
    "SuiteConfig",
    "ThreeDiAdapter",
    "TokenizerAdapter",
    "available_adapters",
    "build_adapter",
    "default_tokenizers",
    "get_suite",
    "parse_tokenizer_specs",
    "prepare_dataset",
    "promod3_item",
    "register_adapter",
    "run_bench",
    "scop_split",
    "sequence_split",
    "tokenize_dataset",
]
