"""Record (or check) a shipped model's golden tokens in ``tests/data/shipped_tokens.json``.

``tests/tokenizer/test_shipped_tokens.py`` pins every chain's tokens of the seven structures below under every
shipped model. This script computes them twice, one torch thread each time:

* the tokenizer users run (:func:`protok.load`: the plain-torch encoder, its blocked inference paths);
* the reference path: the e3nn form of the encoder (:func:`protok.models.load_model`, ``inference=False``)
  with e3nn's generic ``TensorProduct`` in every layer and e3nn's own ``Linear`` code (autograd on, so no
  fast path applies), over graphs of :func:`protok.graph.build_graph`, then the quantizer's indices.

The two must agree on every residue; otherwise nothing is written and the script exits with status 1,
naming the chain. With ``--check`` it writes nothing and compares both with the recorded tokens instead.

Usage (from the repository root)::

    python tests/data/write_shipped_tokens.py protok-provq-small-v2.4           # add or replace an entry
    python tests/data/write_shipped_tokens.py --check                            # every recorded model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]
GOLDEN_PATH = REPO / "tests" / "data" / "shipped_tokens.json"
STRUCTURES = (
    "1a8o.cif",
    "1ubi.pdb",
    "2xhe.pdb.gz",
    "3jqh.bcif.gz",
    "3mht.pdb",
    "3o21.pdb.gz",
    "af2_6kwc_model1.pdb",
)

Tokens = dict[str, dict[str, list[int]]]  # structure file -> chain id -> tokens


def tokenizer_tokens(tok: Any) -> Tokens:
    """Tokens of :data:`STRUCTURES` by ``tok`` (the tokenizer users run, :func:`protok.load`), file by file."""
    return {
        name: {r.chain_id: r.tokens.tolist() for r in tok.encode(REPO / "structures" / name)}
        for name in STRUCTURES
    }


def reference_tokens(model: str, tok: Any) -> Tokens:
    """Tokens of :data:`STRUCTURES` by the reference path (module docstring), one chain at a time; ``tok``,
    the same model's tokenizer, gives the graph's neighbour count and the vocabulary's MISSING id."""
    from protok.graph import build_graph
    from protok.models import load_model
    from protok.structures import read_structure

    net = load_model(model, inference=False)
    for layer in net.encoder.layers:
        layer.fast_tp = None  # e3nn's generic TensorProduct
    out: Tokens = {}
    with torch.enable_grad():  # e3nn's own Linear code; no inference-only path applies
        for name in STRUCTURES:
            out[name] = {}
            for chain in read_structure(REPO / "structures" / name).chains:
                graph = build_graph(chain, tok.k_neighbours)
                z = net.embed(graph).detach()
                mask = graph.node_mask.bool()
                idx = torch.where(mask, net.quantizer.indices(z, mask).long(), -1)
                out[name][chain.auth_chain_id] = torch.where(idx >= 0, idx, tok.vocab.missing).tolist()
    return out


def differences(a: Tokens, b: Tokens) -> list[str]:
    """Where two token sets differ: ``structure chain: residue i`` (or a missing chain)."""
    diffs = []
    for name in sorted(set(a) | set(b)):
        chains_a, chains_b = a.get(name, {}), b.get(name, {})
        for chain in sorted(set(chains_a) | set(chains_b)):
            ta, tb = chains_a.get(chain), chains_b.get(chain)
            if ta is None or tb is None or len(ta) != len(tb):
                diffs.append(f"{name} {chain}: chain missing or of another length")
                continue
            diffs += [f"{name} {chain}: residue {i}" for i, (x, y) in enumerate(zip(ta, tb)) if x != y]
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="model names (with --check, default: every recorded model)")
    ap.add_argument("--check", action="store_true", help="compare with the recorded tokens, write nothing")
    args = ap.parse_args(argv)
    from protok.tokenizer import load

    golden: dict[str, Any] = json.loads(GOLDEN_PATH.read_text())
    models = args.models or (sorted(golden["tokens"]) if args.check else [])
    if not models:
        ap.error("name the models to record")
    status = 0
    threads = torch.get_num_threads()
    for model in models:
        torch.set_num_threads(1)
        try:
            tok = load(model)
            fast, ref = tokenizer_tokens(tok), reference_tokens(model, tok)
        finally:
            torch.set_num_threads(threads)
        problems = [f"tokenizer vs reference: {d}" for d in differences(fast, ref)]
        if args.check:
            recorded = golden["tokens"].get(model)
            problems += ["not recorded"] if recorded is None else differences(fast, recorded)
        count = sum(len(t) for chains in fast.values() for t in chains.values())
        if problems:
            status = 1
            print(f"{model}: {len(problems)} difference(s): " + "; ".join(problems[:10]), file=sys.stderr)
            continue
        if not args.check:
            golden["tokens"][model] = fast
        print(f"{model}: {count} tokens " + ("match" if args.check else "recorded"))
    if not args.check and status == 0:
        GOLDEN_PATH.write_text(json.dumps(golden, indent=None, separators=(",", ":")) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
