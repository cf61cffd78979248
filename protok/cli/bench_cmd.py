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
    default=None,
    help="Comma-separated: built-in kinds (3di, dssp, random, aa), registered model names, and NAME=MODEL "
    "for protok models (a registered name or a checkpoint folder), e.g. "
    "provq=protok-provq-small-v1,vq=ckpt/vq,3di,dssp. Default: the shipped default model, 3di, dssp, "
    "random, aa.",
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
    help="Full-atom PDB files for the flexibility (B-factor) task (default: the Debian package "
    "theseus-examples where installed, else the 39 files shipped with protok).",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Processes training probes in parallel (one thread each).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log details (timings per task) besides the stages.")
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
    robustness; write OUT/results.csv, OUT/report.md and PNG plots. Prints one line per stage on stderr."""
    from protok.bench import build_adapter, default_tokenizers, get_suite, parse_tokenizer_specs, run_bench
    from protok.cli.common import protok_errors

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(message)s")

    def progress(message: str) -> None:
        click.echo(f"protok bench: {message}", err=True)

    with protok_errors():
        specs = parse_tokenizer_specs(tokenizers or default_tokenizers())
        progress(f"tokenizers: {', '.join(name for name, _, _ in specs)}")
        adapters = [build_adapter(n, k, p) for n, k, p in specs]
        run_bench(
            adapters,
            get_suite(suite_name),
            out_dir,
            data_dir=data_dir,
            cache_dir=cache_dir,
            flex_dir=flex_dir,
            workers=workers,
            command=" ".join(["protok", *(shlex.quote(a) for a in sys.argv[1:])]),
            progress=progress,
        )
    click.echo(f"wrote {out_dir / 'results.csv'} and {out_dir / 'report.md'}")
