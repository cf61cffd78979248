"""``protok bench``: score tokenizers StructTokenBench-style (argument parsing only)."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import click

__all__ = ["bench_cmd"]


@click.command("bench")
@click.option(
    "--suite",
    "suite_name",
    type=click.Choice(["smoke", "quick", "full"]),
    default="quick",
    show_default=True,
    help="How much data, how many probe steps / seeds (protok.bench.suites).",
)
@click.option(
    "--tokenizers",
    default="3di,dssp,random,aa",
    show_default=True,
    help="Comma-separated: built-in kinds (3di, dssp, random, aa) and NAME=CHECKPOINT for protok "
    "models, e.g. provq=ckpt/provq,vq=ckpt/vq,aminoaseed=ckpt/aas,3di,dssp,random,aa.",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench_out"),
    show_default=True,
    help="Output folder for results.csv, report.md and plots.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with promod3/ (default: ../shared/data).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Prepared-data and token cache (default: ~/.cache/protok/bench).",
)
@click.option(
    "--flex-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Full-atom PDB files for B-factor regression (default: theseus-examples).",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Processes training probes in parallel (one thread each).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress.")
def bench_cmd(
    suite_name: str,
    tokenizers: str,
    out_dir: Path,
    data_dir: Path | None,
    cache_dir: Path | None,
    flex_dir: Path | None,
    workers: int,
    verbose: bool,
) -> None:
    """Score tokenizers on effectiveness, sensitivity, distinctiveness, efficiency, reconstruction and
    robustness; write OUT/results.csv, OUT/report.md and PNG plots."""
    from protok.bench import build_adapter, get_suite, parse_tokenizer_specs, run_bench
    from protok.bench.data import THESEUS_EXAMPLES
    from protok.errors import ProtokError

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(message)s")
    try:
        adapters = [build_adapter(n, k, p) for n, k, p in parse_tokenizer_specs(tokenizers)]
        run_bench(
            adapters,
            get_suite(suite_name),
            out_dir,
            data_dir=data_dir,
            cache_dir=cache_dir,
            flex_dir=flex_dir or THESEUS_EXAMPLES,
            workers=workers,
            command=" ".join(["protok", *(shlex.quote(a) for a in sys.argv[1:])]),
        )
    except ProtokError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out_dir / 'results.csv'} and {out_dir / 'report.md'}")
