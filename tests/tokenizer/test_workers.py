"""protok.tokenizer.workers: the local run set-up (worker pool and torch threads) outside the CLI."""

from __future__ import annotations

import importlib.util
import sys

import torch

from protok.tokenizer.workers import MIN_FILES_FOR_POOL, encoder_threads, local_encoders, start_pool


def test_local_run_gives_torch_the_free_cores_and_restores_the_count():
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with local_encoders(1, MIN_FILES_FOR_POOL - 1, None) as pool:  # too few files for a pool
            assert pool is None and torch.get_num_threads() == encoder_threads(1)
        assert torch.get_num_threads() == 3
        for kwargs in ({"engine": "ray"}, {"device": "cuda"}):
            with local_encoders(1, MIN_FILES_FOR_POOL, None, **kwargs) as pool:
                assert pool is None and torch.get_num_threads() == 3
        with local_encoders(0, MIN_FILES_FOR_POOL, None) as pool:
            assert pool is None and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def _matplotlib_after_parser_import() -> bool:
    """Import the parser (and with it biotite) in this process; whether matplotlib got loaded."""
    import protok.structures  # noqa: F401

    return any(name.split(".")[0] == "matplotlib" for name in sys.modules)


def test_workers_load_biotite_without_matplotlib():
    with start_pool(1, None) as pool:  # a parse-only worker
        assert pool.executor.submit(_matplotlib_after_parser_import).result(timeout=120) is False
        assert pool.executor.submit(importlib.util.find_spec, "matplotlib").result(timeout=60) is not None
