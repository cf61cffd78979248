"""The ``protok`` command group: one module per command, loaded only when the command runs."""

from __future__ import annotations

import importlib

from click.testing import CliRunner

main = importlib.import_module("protok.cli.main")  # the module (protok.cli.main is also a function's name)


def test_each_command_lives_in_its_own_module():
    for name, target in main._COMMANDS.items():
        module_name, attr = target.split(":")
        assert (module_name, attr) == (f"protok.cli.{name}_cmd", f"{name}_cmd")
        command = getattr(importlib.import_module(module_name), attr)
        assert command.name == name and name in main._SHORT_HELP


def test_help_lists_every_command():
    res = CliRunner().invoke(main.cli, ["--help"])
    assert res.exit_code == 0
    assert all(name in res.output for name in main._COMMANDS)
