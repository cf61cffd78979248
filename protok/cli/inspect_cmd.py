"""``protok inspect``: parse a structure file and print a per-chain summary."""

from __future__ import annotations

import json
from typing import Literal

import click

__all__ = ["inspect_cmd"]


@click.command("inspect")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=False))
@click.option("--chains", default=None, help="Author chain ids to keep, comma-separated (e.g. A,B).")
@click.option(
    "--structure-model",
    "model",
    default="1",
    show_default=True,
    help="1-based model number in multi-model files, or 'all'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def inspect_cmd(path: str, chains: str | None, model: str, as_json: bool) -> None:
    """Parse PATH (PDB, mmCIF, BinaryCIF, optionally .gz) and summarise its chains.

    Shows chain ids, lengths, chain breaks, modified residues, residues missing backbone atoms, ligands,
    waters and skipped (nucleic-acid) chains. Bad input prints the file and the reason and exits with
    status 1; a path that does not exist, with status 2.
    """
    from protok.cli.common import protok_errors
    from protok.structures import read_structure
    from protok.structures.summary import complex_summary, format_summary

    if model == "all":
        model_arg: int | Literal["all"] = "all"
    else:
        try:
            model_arg = int(model)
        except ValueError:
            raise click.BadParameter(
                f"expected a number or 'all', got {model!r}", param_hint="--structure-model"
            ) from None
    with protok_errors():
        result = read_structure(path, chains=chains, model=model_arg)
    complexes = result if isinstance(result, list) else [result]
    summaries = [complex_summary(cx) for cx in complexes]
    if as_json:
        click.echo(json.dumps(summaries if model_arg == "all" else summaries[0], indent=2))
    else:
        click.echo("\n".join(format_summary(s) for s in summaries))
