"""``protok train CONFIG [--resume] [--set KEY=VALUE ...]``: argument parsing around protok.training.train."""

from __future__ import annotations

import logging

import click

__all__ = ["train_cmd"]


@click.command("train")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in run.out_dir.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value by dotted key, e.g. --set optim.lr=3e-4 --set run.out_dir=runs/x.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def train_cmd(config: str, resume: bool, overrides: tuple[str, ...], verbose: bool) -> None:
    """Train a tokenizer from a TOML/YAML CONFIG; prints the final checkpoint folder.

    Runs on one device, or on several under torchrun (torchrun --nproc-per-node N -m protok.training
    CONFIG). Only rank 0 logs and writes.
    """
    from protok.errors import ProtokError
    from protok.training import train

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        path = train(config, resume=resume, overrides=list(overrides))
    except ProtokError as e:
        raise click.ClickException(str(e)) from e
    click.echo(str(path))
