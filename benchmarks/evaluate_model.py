"""Held-out round-trip metrics of a tokenizer model: the numbers on its model card.

For each held-out validation chain of a training config's split (whole chains, no crop), tokenize with
the public API (``protok.load(...).encode``), decode the tokens alone (``decode_coords``) and compare to
the input: CA and backbone RMSD after superposition, TM-score, lDDT-CA; plus data-set-level codebook usage
and perplexity over all held-out tokens.

    python benchmarks/evaluate_model.py --model protok-provq-small-v0 --config configs/provq_small.toml \
        --n 128 -o benchmarks/results/eval_protok-provq-small-v0.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model name or checkpoint folder (default: shipped)")
    ap.add_argument("--config", default="configs/provq_small.toml", help="training config giving the split")
    ap.add_argument("--n", type=int, default=128, help="held-out chains (first n by id)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--output", default=None, help="JSON file to write")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import protok
    from protok.metrics import backbone_rmsd, ca_rmsd, lddt_ca, tm_score
    from protok.training import load_config
    from protok.training.data import load_training_data

    cfg = load_config(args.config)
    data = load_training_data(cfg.data)
    val = sorted(data.val.tolist(), key=lambda i: data.store.ids[i])[: args.n]
    tok = protok.load(args.model)
    k = tok.vocab.codebook_size

    rows = []
    counts = np.zeros(k, dtype=np.int64)
    t0 = time.perf_counter()
    for i in val:
        chain = data.store.get(i)
        (res,) = tok.encode(chain)
        pred = tok.decode_coords(res.tokens, chain.chain_breaks)
        codes = res.tokens[(res.tokens >= 0) & (res.tokens < k)]
        counts += np.bincount(codes, minlength=k)[:k]
        ok = chain.atom_mask.all(axis=1) & np.isfinite(pred).all(axis=(1, 2))
        ref, p = chain.coords[ok].astype(np.float64), pred[ok].astype(np.float64)
        rows.append(
            {
                "id": data.store.ids[i],
                "length": len(chain),
                "ca_rmsd": float(ca_rmsd(p, ref)),
                "bb_rmsd": float(backbone_rmsd(p, ref)),
                "tm": float(tm_score(p[:, 1], ref[:, 1])),
                "lddt_ca": float(lddt_ca(p[:, 1], ref[:, 1])),
            }
        )
    wall = time.perf_counter() - t0
    freq = counts / max(counts.sum(), 1)
    nz = freq[freq > 0]
    summary = {
        "model": args.model or "default",
        "card_name": tok.card.get("name") if isinstance(tok.card, dict) else None,
        "command": "python benchmarks/evaluate_model.py "
        + " ".join(
            f"--{a} {v}" for a, v in [("model", args.model), ("config", args.config), ("n", args.n)] if v
        ),
        "split": f"held-out validation chains of {args.config} (first {len(rows)} by id, whole chains)",
        "chains": len(rows),
        "residues": int(sum(r["length"] for r in rows)),
        "median": {
            m: float(np.median([r[m] for r in rows])) for m in ("ca_rmsd", "bb_rmsd", "tm", "lddt_ca")
        },
        "mean": {m: float(np.mean([r[m] for r in rows])) for m in ("ca_rmsd", "bb_rmsd", "tm", "lddt_ca")},
        "codes_used": int((counts > 0).sum()),
        "codebook_size": k,
        "usage": float((counts > 0).mean()),
        "perplexity": float(math.exp(-(nz * np.log(nz)).sum())) if len(nz) else 0.0,
        "wall_s": round(wall, 1),
        "torch_threads": args.threads,
        "platform": platform.platform(),
    }
    print(json.dumps(summary, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps({"summary": summary, "chains": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
