"""The ``protok`` command: argument parsing only; every command calls the Python API."""

from __future__ import annotations

import importlib
import os
import sys

import click

from protok import __version__
from protok.cli.common import teardown_skippable

__all__ = ["cli", "main"]

# command name -> "module:function"; each module lives in protok/cli/ and imports heavy deps lazily.
# The one-line help is listed here so `protok --help` imports nothing heavy.
_COMMANDS: dict[str, str] = {
    "inspect": "protok.cli.inspect_cmd:inspect_cmd",
    "tokenize": "protok.cli.tokenize_cmd:tokenize_cmd",
    "decode": "protok.cli.decode_cmd:decode_cmd",
    "info": "protok.cli.info_cmd:info_cmd",
    "models": "protok.cli.models_cmd:models_cmd",
    "train": "protok.cli.train_cmd:train_cmd",
    "bench": "protok.cli.bench_cmd:bench_cmd",
}


_SHORT_HELP: dict[str, str] = {
    "inspect": "Parse a structure file and summarise its chains.",
    "tokenize": "Turn structure files into structure tokens.",
    "decode": "Decode token files back into backbone structures.",
    "info": "Show a model's card, vocabulary and special tokens.",
    "models": "List the installed models.",
    "train": "Train a tokenizer from a TOML/YAML config.",
    "bench": "Score tokenizers StructTokenBench-style.",
}


class _LazyGroup(click.Group):
    """Loads a sub-command's module only when that command is used (keeps ``--help`` fast)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="protok")
def cli() -> None:
    """protok: protein structure tokenizer toolkit (structures in, discrete tokens out, and back).

    \b
    Exit status, for every command:
      0  done
      1  an input could not be used, or some inputs of a batch failed (see the errors file)
      2  bad command line: an unknown option, or an input path or model that does not exist
    """


def main() -> None:
    """Run the command line; an unexpected error is one line on stderr, not a traceback
    (``PROTOK_TRACEBACK=1`` shows the traceback)."""
    try:
        with teardown_skippable():
            cli()
    except Exception as exc:  # noqa: BLE001 - the last line of defence for command-line users
        if os.environ.get("PROTOK_TRACEBACK"):
            raise
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {exc} (a protok bug; PROTOK_TRACEBACK=1 shows where)",
            err=True,
        )
        sys.exit(1)
