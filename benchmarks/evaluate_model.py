"""Held-out round-trip metrics of a tokenizer model: the numbers on its model card, with Foldseek 3Di beside it.

The chains are the first ``--n`` held-out validation chains by id of a training config's split, whole (no
crop). Each is tokenized with the public API (``Tokenizer.encode_chains``) and its tokens alone are decoded
(``Tokenizer.decode_coords``). Measured:

* reconstruction, after superposition on the input: CA and backbone RMSD, TM-score, lDDT-CA (median and
  mean over chains), for two forms of the decoded backbone: ``idealized``, as ``decode_coords`` returns it
  by default (the nearest chain of ideal trans peptides), and ``decoder_atoms``, the decoder's own atoms
  (``idealize=False``). The model card's ``median`` and ``mean`` are those of the idealized form;
* physical validity of both forms, and of the input chains for reference, pooled over all chains: the
  share of bonded CA-CA distances within 3.8 ± 0.2 Å, non-bonded CA-CA clashes (< 3.6 Å, ``|i - j| >= 2``)
  per residue, and the share of peptide C-N bonds within 1.329 ± 0.1 Å;
* the codebook: codes used by all held-out tokens, their share of the K codes, and the perplexity (exp of
  the entropy of the token histogram);
* robustness, for the model and for 3Di on the same chains: tokens that change when every atom gets
  Gaussian noise of ``--noise`` Å per axis (seeded), and tokens that change in a copy of each chain turned
  and moved at random, written to a PDB file (coordinates rounded to 0.001 Å) and read back.

The JSON (``-o``) holds ``summary`` (what a model card keeps) and ``chains`` (one row per chain); a short
table goes to stdout, followed by the summary JSON when no ``-o`` is given. Summary keys:

* ``median``, ``mean``: reconstruction of the idealized form (``ca_rmsd``, ``bb_rmsd``, ``tm``, ``lddt_ca``);
  ``reconstruction.idealized`` and ``reconstruction.decoder_atoms``, each with ``median`` and ``mean``;
* ``validity.idealized``, ``validity.decoder_atoms``, ``validity.input``: ``caca_ok``,
  ``clashes_per_residue``, ``peptide_ok`` and the pooled counts behind them;
* ``codes_used``, ``codebook_size``, ``usage``, ``perplexity``;
* ``robustness.noise`` (``sigma``, ``seed``) and ``robustness.rotated_pdb`` (``seed``), each with ``model``
  and ``3di``: ``changed``, ``compared`` (residues with a token in both) and ``share``;
* the run: ``model``, ``card_name``, ``command``, ``split``, ``chains``, ``residues``, ``wall_s`` and
  ``cpu_s`` (the evaluation, without loading the split and the model), ``torch_threads``, ``platform``.

    python benchmarks/evaluate_model.py --model protok-provq-small-v0 --config configs/provq_small.toml \
        --n 128 -o benchmarks/results/eval_protok-provq-small-v0.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protok.bench import BenchItem, ThreeDiAdapter
from protok.bench.scores import change_count, perplexity
from protok.bench.tasks.robustness import noisy_copies, pdb_rigid_copy
from protok.metrics import backbone_rmsd, ca_rmsd, lddt_ca, tm_score
from protok.structures import ProteinChain, bonded_ca_ok, ca_clashes, peptide_bonds_ok
from protok.tokenizer import TokenizedChain, Tokenizer

#: Reconstruction metrics, per chain and summarised.
RECONSTRUCTION = ("ca_rmsd", "bb_rmsd", "tm", "lddt_ca")
#: The decoded backbone as ``decode_coords`` returns it by default, and the decoder's own atoms.
FORMS = {"idealized": True, "decoder_atoms": False}
#: Token sets compared with the tokens of the input chains.
PERTURBATIONS = ("noise", "rotated_pdb")
#: Noise per axis on every atom (Å) and the seed of the noise and of the rigid motions, unless given.
NOISE: float = 0.1
SEED: int = 0


def reconstruction(pred: np.ndarray, chain: ProteinChain) -> dict[str, float]:
    """CA and backbone RMSD, TM-score and lDDT-CA of a decoded backbone ``pred`` (L, 4, 3) against
    ``chain``, over the residues complete in the input and decoded."""
    ok = chain.atom_mask.all(axis=1) & np.isfinite(pred).all(axis=(1, 2))
    ref, p = chain.coords[ok].astype(np.float64), pred[ok].astype(np.float64)
    return {
        "ca_rmsd": float(ca_rmsd(p, ref)),
        "bb_rmsd": float(backbone_rmsd(p, ref)),
        "tm": float(tm_score(p[:, 1], ref[:, 1])),
        "lddt_ca": float(lddt_ca(p[:, 1], ref[:, 1])),
    }


def validity(coords: np.ndarray, breaks: np.ndarray) -> dict[str, int]:
    """Bond and clash counts of one backbone (L, 4, 3; NaN where missing): bonded CA-CA pairs and those
    within 3.8 ± 0.2 Å, peptide C-N bonds and those within 1.329 ± 0.1 Å, non-bonded CA-CA clashes and
    residues with a CA."""
    caca_ok, caca = bonded_ca_ok(coords, breaks)
    peptide_ok, peptide = peptide_bonds_ok(coords, breaks)
    return {
        "caca_bonds": caca,
        "caca_bonds_ok": caca_ok,
        "peptide_bonds": peptide,
        "peptide_bonds_ok": peptide_ok,
        "clashes": ca_clashes(coords),
        "residues": int(np.isfinite(coords[:, 1]).all(axis=1).sum()),
    }


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def pooled_validity(counts: Sequence[dict[str, int]]) -> dict[str, float | int]:
    """:func:`validity` counts of many chains as shares: ``caca_ok`` and ``peptide_ok`` of all bonds,
    ``clashes_per_residue``; with the pooled counts behind them."""
    total = {key: sum(c[key] for c in counts) for key in counts[0]}
    return {
        "caca_ok": _share(total["caca_bonds_ok"], total["caca_bonds"]),
        "clashes_per_residue": _share(total["clashes"], total["residues"]),
        "peptide_ok": _share(total["peptide_bonds_ok"], total["peptide_bonds"]),
        **total,
    }


def matched_residues(a: ProteinChain, b: ProteinChain) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``a`` and into ``b`` of the residues both have (same number and insertion code), in
    the order of ``a``; shape=(n,) each."""
    where = {key: j for j, key in enumerate(zip(b.res_ids.tolist(), b.ins_codes.tolist()))}
    pairs = [
        (i, where[key]) for i, key in enumerate(zip(a.res_ids.tolist(), a.ins_codes.tolist())) if key in where
    ]
    ia, ib = zip(*pairs) if pairs else ((), ())
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)


def _changes(counts: Sequence[tuple[int, int]]) -> dict[str, float | int]:
    """Pooled ``(changed, compared)`` counts with the share they make."""
    changed, compared = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return {"changed": changed, "compared": compared, "share": _share(changed, compared)}


def chain_row(tok: Tokenizer, chain: ProteinChain, tokens: np.ndarray) -> dict[str, Any]:
    """Reconstruction (the idealized form at the top level, ``decoder_atoms`` beside it) and validity of
    one chain decoded from its ``tokens`` (the tokenizer's ids, MISSING where a residue has none)."""
    decoded = {
        form: tok.decode_coords(tokens, chain.chain_breaks, idealize=ideal) for form, ideal in FORMS.items()
    }
    given = np.where(chain.atom_mask[..., None], chain.coords, np.nan)
    return {
        "length": len(chain),
        **reconstruction(decoded["idealized"], chain),
        "decoder_atoms": reconstruction(decoded["decoder_atoms"], chain),
        "validity": {
            form: validity(xyz, chain.chain_breaks) for form, xyz in (*decoded.items(), ("input", given))
        },
    }


def evaluate(
    tok: Tokenizer,
    chains: Sequence[ProteinChain],
    ids: Sequence[str],
    *,
    noise: float = NOISE,
    seed: int = SEED,
    reference: tuple[str, Tokenizer] | None = None,
) -> dict[str, Any]:
    """Every metric of this module on ``chains``: ``{"summary": {...}, "chains": [one row per chain]}``.

    The summary holds the metrics only; :func:`main` adds what describes the run (model, command, split).
    ``seed`` seeds the noise (one generator over the chains in order) and the rigid motion of chain ``j``
    (``seed + j``). Tokens of a rotated copy are compared residue by residue (same number and insertion
    code) with those of the input chain. ``reference`` (a name and its tokenizer) adds ``agreement``: the
    share of the input chains' tokens that model gives too.
    """
    three_di = ThreeDiAdapter()
    with tempfile.TemporaryDirectory() as tmp:
        copies = {
            "input": list(chains),
            "noise": noisy_copies(chains, noise, seed),
            "rotated_pdb": [
                pdb_rigid_copy(c, Path(tmp) / f"{j}.pdb", seed + j) for j, c in enumerate(chains)
            ],
        }
    encoded = {name: tok.encode_chains(cs, ids=ids) for name, cs in copies.items()}
    tokens = {
        "model": {name: [np.where(t.mask, t.tokens, -1) for t in enc] for name, enc in encoded.items()},
        "3di": {
            name: [three_di.encode(BenchItem(i, c)) for i, c in zip(ids, cs, strict=True)]
            for name, cs in copies.items()
        },
    }
    rows = []
    for j, (chain, cid) in enumerate(zip(chains, ids, strict=True)):
        ia, ib = matched_residues(chain, copies["rotated_pdb"][j])
        same: dict[str, tuple[Any, Any]] = {"noise": (slice(None), slice(None)), "rotated_pdb": (ia, ib)}
        changed = {
            p: {
                who: _changes([change_count(t["input"][j][same[p][0]], t[p][j][same[p][1]])])
                for who, t in tokens.items()
            }
            for p in PERTURBATIONS
        }
        rows.append({"id": cid, **chain_row(tok, chain, encoded["input"][j].tokens), "changed": changed})
    summary = summarise(rows, tokens["model"]["input"], tok.vocab.codebook_size, noise=noise, seed=seed)
    if reference is not None:
        name, ref_tok = reference
        summary["agreement"] = {"reference": name, **agreement(encoded["input"], ref_tok, chains)}
    return {"summary": summary, "chains": rows}


def agreement(
    encoded: Sequence[TokenizedChain], reference: Tokenizer, chains: Sequence[ProteinChain]
) -> dict[str, float | int]:
    """Residues of ``chains`` given the same token in ``encoded`` (a model's tokens of them) and by
    ``reference`` (e.g. a distilled model and its teacher), over the residues both give a token:
    ``same``, ``compared``, ``share``."""
    same = compared = 0
    for a, b in zip(encoded, reference.encode_chains(chains), strict=True):
        both = a.mask & b.mask
        same += int((a.tokens[both] == b.tokens[both]).sum())
        compared += int(both.sum())
    return {"same": same, "compared": compared, "share": _share(same, compared)}


def _per_form(rows: Sequence[dict[str, Any]], form: str) -> list[dict[str, float]]:
    return [r if form == "idealized" else r[form] for r in rows]


def summarise(
    rows: Sequence[dict[str, Any]], tokens: Sequence[np.ndarray], k: int, *, noise: float, seed: int
) -> dict[str, Any]:
    """The summary of :func:`evaluate`'s per-chain ``rows`` and the model's tokens of the input chains
    (``-1`` where undefined) over a codebook of ``k`` codes."""
    recon = {
        form: {
            stat: {m: float(fn([r[m] for r in _per_form(rows, form)])) for m in RECONSTRUCTION}
            for stat, fn in (("median", np.median), ("mean", np.mean))
        }
        for form in FORMS
    }
    params: dict[str, dict[str, float]] = {
        "noise": {"sigma": noise, "seed": seed},
        "rotated_pdb": {"seed": seed},
    }
    flat = np.concatenate(tokens) if len(tokens) else np.zeros(0, dtype=np.int64)
    counts = np.bincount(flat[flat >= 0], minlength=k)[:k]
    return {
        "chains": len(rows),
        "residues": int(sum(r["length"] for r in rows)),
        "median": recon["idealized"]["median"],
        "mean": recon["idealized"]["mean"],
        "reconstruction": recon,
        "validity": {
            form: pooled_validity([r["validity"][form] for r in rows]) for form in (*FORMS, "input")
        },
        "codes_used": int((counts > 0).sum()),
        "codebook_size": k,
        "usage": float((counts > 0).mean()),
        "perplexity": perplexity(flat, k),
        "robustness": {
            p: {
                **params[p],
                **{
                    who: _changes(
                        [(r["changed"][p][who]["changed"], r["changed"][p][who]["compared"]) for r in rows]
                    )
                    for who in ("model", "3di")
                },
            }
            for p in PERTURBATIONS
        },
    }


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def format_summary(summary: dict[str, Any]) -> str:
    """A short table of :func:`evaluate`'s summary for the terminal."""
    name = summary.get("card_name") or summary.get("model", "model")
    lines = [
        f"{name}: {summary['chains']} held-out chains, {summary['residues']:,} residues",
        f"{'reconstruction, median (mean)':<30}{'CA-RMSD (Å)':>16}{'TM-score':>16}{'lDDT-CA':>16}",
    ]
    for form, rec in summary["reconstruction"].items():
        med, mean = rec["median"], rec["mean"]
        cells = [f"{med[m]:.{d}f} ({mean[m]:.{d}f})" for m, d in (("ca_rmsd", 2), ("tm", 3), ("lddt_ca", 3))]
        lines.append(f"  {form:<28}" + "".join(f"{c:>16}" for c in cells))
    lines.append(f"{'validity':<30}{'CA-CA ok':>16}{'clashes/residue':>16}{'C-N ok':>16}")
    for form, v in summary["validity"].items():
        cells = [_pct(v["caca_ok"]), f"{v['clashes_per_residue']:.3f}", _pct(v["peptide_ok"])]
        lines.append(f"  {form:<28}" + "".join(f"{c:>16}" for c in cells))
    lines.append(
        f"codebook: {summary['codes_used']} of {summary['codebook_size']} codes used "
        f"({_pct(summary['usage'])}), perplexity {summary['perplexity']:.1f}"
    )
    lines.append(f"{'tokens changed':<30}{'model':>26}{'3Di':>26}")
    for kind, r in summary["robustness"].items():
        label = f"noise {r['sigma']:g} Å" if kind == "noise" else "rotated copy via PDB"
        cells = [
            f"{r[w]['changed']:,} / {r[w]['compared']:,} ({_pct(r[w]['share'])})" for w in ("model", "3di")
        ]
        lines.append(f"  {label:<28}" + "".join(f"{c:>26}" for c in cells))
    if "agreement" in summary:
        a = summary["agreement"]
        lines.append(
            f"same token as {a['reference']}: {a['same']:,} / {a['compared']:,} ({_pct(a['share'])})"
        )
    return "\n".join(lines)


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (options left at their defaults omitted)."""
    opts = [("model", args.model), ("config", args.config), ("n", args.n), ("reference", args.reference)]
    opts += [
        (name, getattr(args, name))
        for name, default in (("noise", NOISE), ("seed", SEED))
        if getattr(args, name) != default
    ]
    return "python benchmarks/evaluate_model.py " + " ".join(f"--{a} {v}" for a, v in opts if v is not None)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model name or checkpoint folder (default: shipped)")
    ap.add_argument("--config", default="configs/provq_small.toml", help="training config giving the split")
    ap.add_argument("--n", type=int, default=128, help="held-out chains (first n by id)")
    ap.add_argument("--noise", type=float, default=NOISE, help="noise per axis on every atom (Å)")
    ap.add_argument("--seed", type=int, default=SEED, help="seed of the noise and the rigid motions")
    ap.add_argument(
        "--reference", default=None, help="another model: the share of residues given the same token as it"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--output", default=None, help="JSON file to write")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    import protok
    from protok.training import load_config
    from protok.training.data import load_training_data

    t_load, cpu_load = time.perf_counter(), time.process_time()
    data = load_training_data(load_config(args.config).data)
    val = sorted(data.val.tolist(), key=lambda i: data.store.ids[i])[: args.n]
    tok = protok.load(args.model)
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = evaluate(
        tok,
        [data.store.get(i) for i in val],
        [data.store.ids[i] for i in val],
        noise=args.noise,
        seed=args.seed,
        reference=(args.reference, protok.load(args.reference)) if args.reference else None,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    summary = {
        "model": args.model or "default",
        "card_name": tok.card.get("name"),
        "command": _command(args),
        "split": f"held-out validation chains of {args.config} (first {len(val)} by id, whole chains)",
        **result["summary"],
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "torch_threads": args.threads,
        "platform": platform.platform(),
    }
    print(format_summary(summary))
    print(
        f"evaluated in {wall:.0f} s wall, {cpu:.0f} s CPU (split and model loaded in "
        f"{t0 - t_load:.0f} s wall, {cpu0 - cpu_load:.0f} s CPU)"
    )
    if args.output:
        Path(args.output).write_text(
            json.dumps({"summary": summary, "chains": result["chains"]}, indent=1) + "\n"
        )
    else:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
