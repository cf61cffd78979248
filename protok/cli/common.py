"""What every ``protok`` command shares: exit statuses and how protok errors reach the user.

Exit statuses, the same for every command:

* 0 - done;
* 1 - an input could not be used (bad content, failed records, a model that does not match), or some
  inputs of a batch failed (they are listed in the errors file and the others are written);
* 2 - the command line cannot be carried out: a bad option, or an input path, model or data folder
  that does not exist.

Errors are printed as one line, ``Error: <file>: <reason>``, never as a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from protok.errors import ModelNotFoundError, ProtokError

if TYPE_CHECKING:  # pragma: no cover
    from protok.tokenizer.api import Tokenizer

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "NotFound",
    "load_tokenizer",
    "protok_errors",
    "skip_teardown",
    "teardown_skippable",
]

#: Exit status when an input could not be used or some inputs of a batch failed.
EXIT_FAILED: int = 1
#: Exit status when the command line cannot be carried out (bad option, missing path or model).
EXIT_USAGE: int = 2


class NotFound(click.ClickException):
    """An input path, model or data folder named on the command line does not exist (exit status 2)."""

    exit_code = EXIT_USAGE


@contextlib.contextmanager
def protok_errors() -> Iterator[None]:
    """Turn a :class:`protok.errors.ProtokError` into a one-line message and the documented exit status."""
    try:
        yield
    except ProtokError as exc:
        if isinstance(exc, (FileNotFoundError, ModelNotFoundError)):
            raise NotFound(str(exc)) from None
        raise click.ClickException(str(exc)) from None


def load_tokenizer(model: str | None, device: str = "cpu", batch_size: int = 64) -> Tokenizer:
    """:func:`protok.tokenizer.load` for a command: a missing model exits 2, a bad one 1, in one line."""
    from protok.tokenizer import load

    with protok_errors():
        return load(model, device=device, batch_size=batch_size)


_ARMED: bool = False
_SKIP: bool = False


def skip_teardown() -> None:
    """Ask :func:`teardown_skippable` to end the process as soon as this command returns, without the
    interpreter's teardown (0.4-0.9 s per process with torch and biotite loaded). For a command that has
    closed everything it opened and stopped its worker processes; a no-op outside
    :func:`protok.cli.main.main` (a command invoked in-process, as tests do, keeps its process)."""
    global _SKIP
    _SKIP = _ARMED


@contextlib.contextmanager
def teardown_skippable() -> Iterator[None]:
    """Run the command line inside: when the command asked :func:`skip_teardown`, its ``SystemExit`` ends
    the process at once (standard streams and logging flushed, exit status kept)."""
    global _ARMED, _SKIP
    _ARMED, _SKIP = True, False
    try:
        yield
    except SystemExit as done:
        if _SKIP:
            _exit_without_teardown(done.code)
        raise
    finally:
        _ARMED = _SKIP = False


def _exit_without_teardown(code: object) -> None:
    if code is not None and not isinstance(code, int):  # what sys.exit does with a message
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a closed pipe: nothing left to save
            pass
    os._exit(code or 0)
