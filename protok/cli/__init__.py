"""Command-line interface (``protok``); see :mod:`protok.cli.main`."""

from protok.cli.main import cli, main

__all__ = ["cli", "main"]
