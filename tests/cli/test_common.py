"""What the commands share: ending a finished command's process without the interpreter's teardown."""

from __future__ import annotations

import os

import pytest

from protok.cli import common


class _Exited(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``os._exit`` recorded instead of ending the test process."""
    codes: list[int] = []

    def fake_exit(code: int) -> None:
        codes.append(code)
        raise _Exited(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    return codes


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (1, 1), (2, 2)])
def test_a_command_that_asks_ends_with_its_exit_status(exits: list[int], code, status: int) -> None:
    with pytest.raises(_Exited), common.teardown_skippable():
        common.skip_teardown()
        raise SystemExit(code)
    assert exits == [status]


def test_other_commands_and_in_process_calls_exit_normally(exits: list[int]) -> None:
    with pytest.raises(SystemExit), common.teardown_skippable():
        raise SystemExit(1)  # did not ask
    common.skip_teardown()  # outside protok.cli.main.main: a no-op
    with pytest.raises(SystemExit), common.teardown_skippable():
        raise SystemExit(0)
    assert exits == []
