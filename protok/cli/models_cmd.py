"""``protok models``: the installed models, one line each."""

from __future__ import annotations

import click

__all__ = ["models_cmd"]


@click.command("models")
def models_cmd() -> None:
    """List the installed models, one line each: name, codebook size K, parameters, size on disk; the
    default (used when no --model is given) is marked with *."""
    from protok.cli.common import protok_errors
    from protok.models.registry import available_models, model_summary

    with protok_errors():
        for name in available_models():
            click.echo(model_summary(name).line())
