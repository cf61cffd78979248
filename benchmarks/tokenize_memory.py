"""Peak memory of tokenizing one chain vs its length, up to a 5,000-residue chain (one subprocess per length).

Long chains are synthesised from real ones: consecutive ProMod3 chains (``../shared/data/promod3/chains.npz``;
the committed ``structures/3o21.pdb.gz`` chains when the data folder is absent) are placed side by side
(each shifted along x so segments do not overlap) and concatenated into one chain of exactly L residues,
written as a PDB file. A fresh Python process per length loads the model, reads the file and encodes it with
``Tokenizer.encode``; it reports its peak resident set size (``ru_maxrss``) before and after encoding.
Checks: peak RSS <= 2 GB at every length, and growth is linear (peak-minus-baseline per residue roughly
constant; a least-squares line fits with R^2 close to 1). Results: ``benchmarks/results/tokenize_memory.json``.

Usage::

    python benchmarks/tokenize_memory.py --lengths 250 500 1000 2000 5000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import repo_relative

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"
LIMIT_MB = 2048.0


def _source_chains(data: Path) -> list:
    from protok.structures import Promod3Chains, read_structure

    if data.is_file():
        db = Promod3Chains(data)
        return [db.chain(i) for i in range(200)]
    return list(read_structure(REPO / "structures" / "3o21.pdb.gz").chains)


def _long_chain(chains: list, length: int):
    from protok.structures import ProteinChain

    coords, seq, n, shift = [], [], 0, 0.0
    i = 0
    while n < length:
        c = chains[i % len(chains)]
        take = min(len(c), length - n)
        xyz = np.array(c.coords[:take], dtype=np.float32)
        xyz -= np.nanmin(xyz.reshape(-1, 3), axis=0)
        xyz[..., 0] += shift
        shift = float(np.nanmax(xyz[..., 0])) + 8.0
        coords.append(xyz)
        seq.append(c.sequence[:take])
        n += take
        i += 1
    xyz = np.concatenate(coords)
    return ProteinChain(
        coords=xyz, atom_mask=np.isfinite(xyz).all(-1), sequence="".join(seq), source="synthetic"
    )


def _child(model: str, path: str) -> None:
    import time

    import torch

    from protok.tokenizer import load

    torch.set_num_threads(1)
    tok = load(model)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.perf_counter()
    (r,) = tok.encode(path)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"length": len(r), "baseline_mb": base, "peak_mb": peak, "encode_s": dt,
                      "tokens_with_code": int(r.mask.sum())}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--lengths", type=int, nargs="+", default=[250, 500, 1000, 2000, 5000])
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "tokenize_memory.json")
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "PDB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return

    from protok.structures import write_structure
    from protok.tokenizer.testing import make_test_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        chains = _source_chains(args.data)
        model = args.model or str(make_test_model(tmpd / "model", chains[:8], seed=0))
        for length in args.lengths:
            path = tmpd / f"long_{length}.pdb"
            write_structure(_long_chain(chains, length), path)
            res = subprocess.run([sys.executable, __file__, "--child", model, str(path)], capture_output=True,
                                 text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))  # fmt: skip
            if res.returncode != 0:
                raise SystemExit(f"length {length} failed: {res.stderr[-2000:]}")
            row = json.loads(res.stdout.strip().splitlines()[-1])
            row["delta_mb"] = row["peak_mb"] - row["baseline_mb"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    L = np.array([r["length"] for r in rows], dtype=float)
    peak = np.array([r["peak_mb"] for r in rows])
    slope, intercept = np.polyfit(L, peak, 1)
    pred = slope * L + intercept
    r2 = 1.0 - float(((peak - pred) ** 2).sum() / max(((peak - peak.mean()) ** 2).sum(), 1e-12))
    result = {
        "command": " ".join(["python", "benchmarks/tokenize_memory.py", *sys.argv[1:]]),
        "model": args.model or "random-init small (make_test_model)",
        "source": repo_relative(args.data) if args.data.is_file() else "structures/3o21.pdb.gz",
        "rows": rows,
        "linear_fit": {
            "mb_per_1000_residues": round(slope * 1000, 2),
            "intercept_mb": round(intercept, 1),
            "r2": round(r2, 4),
        },
        "max_peak_mb": float(peak.max()),
        "within_2gb": bool(peak.max() <= LIMIT_MB),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
