"""Readable summaries of a parsed structure (used by ``protok inspect``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from protok.structures.chain import BACKBONE_ATOMS, ProteinChain, ProteinComplex

__all__ = ["chain_summary", "complex_summary", "format_summary"]


def _res_label(chain: ProteinChain, i: int) -> str:
    return f"{chain.res_names[i]}{int(chain.res_ids[i])}{chain.ins_codes[i]}"


def chain_summary(chain: ProteinChain) -> dict[str, Any]:
    """Facts about one chain as plain Python values (JSON-serialisable).

    Returns
    -------
    dict
        ``auth_chain_id``, ``label_chain_id``, ``length``, ``first_res``, ``last_res``, ``sequence``,
        ``breaks`` (residue labels where a break precedes), ``modified`` (name -> count),
        ``missing_atoms`` (residue label -> missing backbone atom names), ``mean_ca_b_factor``.
    """
    missing_idx = np.nonzero(~chain.atom_mask.all(axis=1))[0]
    b = chain.b_factors[~np.isnan(chain.b_factors)]
    return {
        "auth_chain_id": chain.auth_chain_id,
        "label_chain_id": chain.label_chain_id,
        "length": len(chain),
        "first_res": _res_label(chain, 0) if len(chain) else None,
        "last_res": _res_label(chain, len(chain) - 1) if len(chain) else None,
        "sequence": chain.sequence,
        "breaks": [_res_label(chain, int(i)) for i in np.nonzero(chain.chain_breaks)[0]],
        "modified": dict(Counter(str(n) for n in chain.res_names[chain.is_modified])),
        "missing_atoms": {
            _res_label(chain, int(i)): [
                a for a, m in zip(BACKBONE_ATOMS, chain.atom_mask[i], strict=True) if not m
            ]
            for i in missing_idx
        },
        "mean_ca_b_factor": float(b.mean()) if len(b) else None,
    }


def complex_summary(cx: ProteinComplex) -> dict[str, Any]:
    """Facts about a complex: per-chain summaries, ligands (name -> atom count), waters, skipped chains."""
    ligands: dict[str, int] = {}
    if cx.ligands is not None and cx.ligands.array_length():
        ligands = dict(Counter(str(n) for n in cx.ligands.res_name))
    return {
        "source": cx.source,
        "model": cx.model,
        "chains": [chain_summary(c) for c in cx.chains],
        "ligand_atoms": ligands,
        "waters": cx.waters,
        "skipped": [{"chain_id": s.chain_id, "reason": s.reason} for s in cx.skipped],
    }


def _short_list(items: list[str], n: int = 8) -> str:
    if not items:
        return "none"
    more = f" ... (+{len(items) - n})" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable text for :func:`complex_summary` output."""
    lines = [f"{summary['source']}  model {summary['model']}  protein chains: {len(summary['chains'])}"]
    for c in summary["chains"]:
        label = "" if c["label_chain_id"] == c["auth_chain_id"] else f" (label {c['label_chain_id']})"
        lines.append(
            f"  chain {c['auth_chain_id']}{label}: {c['length']} residues {c['first_res']}..{c['last_res']}"
        )
        seq = c["sequence"]
        lines.append(f"    sequence: {seq[:60]}{'...' if len(seq) > 60 else ''}")
        lines.append(f"    breaks: {len(c['breaks'])} ({_short_list(c['breaks'])})")
        mods = [f"{k} x{v}" for k, v in sorted(c["modified"].items())]
        lines.append(f"    modified residues: {_short_list(mods)}")
        miss = [f"{k} [{' '.join(v)}]" for k, v in c["missing_atoms"].items()]
        lines.append(f"    missing backbone atoms: {len(miss)} residue(s) ({_short_list(miss, 5)})")
        if c["mean_ca_b_factor"] is not None:
            lines.append(f"    mean CA B-factor / pLDDT: {c['mean_ca_b_factor']:.2f}")
    ligs = [f"{k} ({v} atoms)" for k, v in sorted(summary["ligand_atoms"].items())]
    lines.append(f"  ligands: {_short_list(ligs)}")
    lines.append(f"  waters: {summary['waters']} atoms")
    skipped = [f"{s['chain_id']}: {s['reason']}" for s in summary["skipped"]]
    lines.append(f"  skipped: {_short_list(skipped)}")
    return "\n".join(lines)
