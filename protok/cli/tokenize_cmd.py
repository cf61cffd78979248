"""``protok tokenize``: argument parsing around :func:`protok.tokenizer.runner.run_tokenize`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from protok.cli.common import load_tokenizer, skip_teardown

__all__ = ["tokenize_cmd"]


@click.command("tokenize")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file: .fasta, .jsonl or .parquet (default: FASTA text on stdout).",
)
@click.option("--chains", default=None, help="Author chain ids to keep, comma-separated (default: all).")
@click.option(
    "--model", "model_name", default=None, help="Model name or checkpoint folder (default: shipped model)."
)
@click.option("--structure-model", type=int, default=None, help="1-based model number in multi-model files.")
@click.option("--device", default="cpu", show_default=True, help="Encoder device: cpu, cuda, cuda:1, ...")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes that parse files (and, on a CPU, encode them too) beside this one "
    "(default: one per spare core; 0 = all in-process).",
)
@click.option("--batch-size", type=int, default=64, show_default=True, help="Chains per encoder call.")
@click.option(
    "--files-per-shard", type=int, default=256, show_default=True, help="Input files per output shard."
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run into the same output.")
@click.option(
    "--shard", "shard_spec", default=None, help="Process only shard i of N (i/N, 0-based) of the inputs."
)
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Progress bar (files/s) on stderr."
)
def tokenize_cmd(inputs, output, chains, model_name, structure_model, device, workers, batch_size,
                 files_per_shard, resume, shard_spec, engine, progress) -> None:  # fmt: skip
    """Turn structure files (PDB / mmCIF / BinaryCIF, .gz too) into structure tokens.

    INPUTS are files, directories (searched recursively) or globs. Without -o, prints FASTA-style records
    (>{id}_{chain}, then the tokens as text). A record's id is its file name without the extension; files
    that would share one are named by their relative path (a/x, b/x), with the extension where needed
    (x.pdb, x.cif). Failed inputs are recorded in OUTPUT.errors.tsv (e.g. tokens.jsonl.errors.tsv) and the
    run goes on; the exit status is 1 while any input of the output fails (--resume tries them again).
    """
    from protok._lazy import import_biotite_without_matplotlib
    from protok.errors import ProtokError
    from protok.tokenizer.inputs import collect_inputs, parse_shard, record_ids, select_shard
    from protok.tokenizer.tokenfile import format_of
    from protok.tokenizer.workers import default_workers, local_encoders

    logging.basicConfig(level=logging.WARNING, format="protok: %(message)s")
    try:
        files = collect_inputs(inputs)
        ids = record_ids(files)  # over all inputs, so every shard of a run names records alike
        if shard_spec:
            files = select_shard(files, *parse_shard(shard_spec))
        if output is not None:
            format_of(output)
    except (ProtokError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    n_workers = default_workers() if workers is None else workers
    with local_encoders(n_workers, len(files), model_name, engine=engine, device=device) as pool:
        import_biotite_without_matplotlib()  # before the imports below load biotite
        from protok.tokenizer.config import TokenizeConfig
        from protok.tokenizer.runner import run_tokenize

        tok = load_tokenizer(model_name, device, batch_size)
        cfg = TokenizeConfig(
            inputs=files,
            output=output,
            chains=[c for c in chains.split(",") if c] if chains else None,
            model=structure_model,
            workers=n_workers,
            files_per_shard=files_per_shard,
            resume=resume,
            engine=engine,
            progress=progress,
            model_name=model_name or tok.name,
            device=device,
            ids=ids,
        )
        try:
            summary = run_tokenize(tok, cfg, stream=sys.stdout, pool=pool)
        except FileExistsError as exc:
            raise click.UsageError(str(exc)) from None
    skip_teardown()  # every output is closed and the workers have stopped
    click.echo(f"protok tokenize: {summary.line()}", err=True)
    if summary.failed:
        sys.exit(1)
