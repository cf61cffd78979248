"""protok._threads: torch thread counts scoped to a block."""

from __future__ import annotations

import pytest
import torch

from protok._threads import torch_threads


def test_thread_count_is_set_for_the_block_and_restored_even_on_error():
    before = torch.get_num_threads()
    target = 2 if before != 2 else 3
    with torch_threads(target):
        assert torch.get_num_threads() == target
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(target):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
