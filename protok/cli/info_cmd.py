"""``protok info``: one model's card, vocabulary, special tokens and pair vocabulary (text or JSON)."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["info_cmd"]


def _text_lines(value: Any, indent: int) -> list[str]:
    """A JSON-like value as indented ``key: value`` lines (floats to 4 significant digits)."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict) and item:
                lines += [f"{pad}{key}:", *_text_lines(item, indent + 1)]
            else:
                lines.append(f"{pad}{key}: {_scalar_text(item)}")
        return lines
    return [f"{pad}{_scalar_text(value)}"]


def _scalar_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_scalar_text(v) for v in value) if value else "[]"
    if isinstance(value, dict):
        return "{}"
    return str(value)


@click.command("info")
@click.argument("model_name", required=False, default=None)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (machine-readable) instead of text."
)
def info_cmd(model_name: str | None, as_json: bool) -> None:
    """Show a model's card, its vocabulary, the special-token ids and the pair vocabulary of SaProt-style
    pair ids (default: the shipped model). MODEL_NAME is a registered name or a model folder."""
    from protok.cli.common import load_tokenizer
    from protok.tokenizer.vocab import SPECIAL_TEXT

    tok = load_tokenizer(model_name)
    v = tok.vocab
    info = {
        "model": tok.name,
        "card": tok.card,
        "vocabulary": v.to_dict(),
        "pair_vocabulary": v.pairs.to_dict(),
        "graph_k": tok.k_neighbours,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(f"model: {tok.name}")
    click.echo(f"residue graph: k = {tok.k_neighbours} neighbours")
    click.echo("card:")
    for line in _text_lines(tok.card, 1):
        click.echo(line)
    click.echo(f"vocabulary: {v.size} ids; codes 0..{v.codebook_size - 1}")
    click.echo("special tokens:")
    for name, i in v.special_ids.items():
        click.echo(f"  {name:<11} {i:>6}  {SPECIAL_TEXT[name]}")
    pv = v.pairs
    click.echo(
        f"pair vocabulary (interleave): {pv.size} ids; pairs 0..{pv.regular - 1} = aa * {v.codebook_size + 1} "
        f"+ code (code {v.codebook_size} = no structure token); aa in ACDEFGHIKLMNPQRSTVWY, X = 20"
    )
    click.echo("pair special tokens:")
    for name, i in pv.special_ids.items():
        click.echo(f"  {name:<11} {i:>6}")
