"""``protok decode``: argument parsing around :func:`protok.tokenizer.decode.decode_file`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from protok.cli.common import load_tokenizer, protok_errors

__all__ = ["decode_cmd"]


@click.command("decode")
@click.argument("tokens", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for one structure file per record, named {id}_{chain}.pdb.",
)
@click.option("--format", "fmt", type=click.Choice(["pdb", "cif"]), default="pdb", show_default=True)
@click.option(
    "--model", "model_name", default=None, help="Model name or checkpoint folder (default: shipped model)."
)
@click.option("--device", default="cpu", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Worker processes that decode beside this one on a CPU, from 64 records (on an idle multi-core "
    "machine; on a busy one they compete with this process).",
)
@click.option(
    "--idealize/--no-idealize",
    default=True,
    show_default=True,
    help="Write the nearest chain of ideal trans peptides to the decoder's atoms (bonded CA-CA 3.80 Å, "
    "ideal peptide bonds), or the decoder's atoms as they are.",
)
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Progress bar (records) on stderr."
)
def decode_cmd(tokens, out_dir, fmt, model_name, device, workers, idealize, progress) -> None:  # fmt: skip
    """Decode a token file (.jsonl / .parquet / .fasta) into backbone structures, one file per record.

    Each file's title names the model and says that the coordinates were decoded from structure tokens. A
    record whose chain does not fit the PDB format (a 2-character chain id) is written as mmCIF; a record
    that fails is listed in OUTPUT.errors.tsv beside the folder and the others are written (exit status 1).
    Record ids with / become subfolders; no file is written twice in one run.
    """

    from protok.tokenizer.decode import decode_file, local_decoders

    with local_decoders(workers, tokens, model_name, device=device) as pool:
        tok = load_tokenizer(model_name, device)
        with protok_errors():
            summary = decode_file(
                tok, tokens, out_dir, fmt=fmt, pool=pool, progress=progress, idealize=idealize
            )
    for f in summary.failures[:3]:
        click.echo(f"protok decode: failed: {f.source}: {f.reason}", err=True)
    if len(summary.failures) > 3:
        click.echo(f"protok decode: ... and {len(summary.failures) - 3} more", err=True)
    click.echo(f"protok decode: {summary.line()}", err=True)
    if summary.failures:
        sys.exit(1)
