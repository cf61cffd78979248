"""``protok decode`` speed against the ``Tokenizer.decode`` API, in one run.

Tokenizes ``--n`` real chains from ``../shared/data/promod3/chains.npz`` (a seeded sample of chains with
40-512 residues, the sample of the other speed scripts) with the model, writes their records to a JSONL token
file, then times on the same records:

(a) the API: ``Tokenizer.decode`` one chain at a time in this process (decoding only: no start-up, no
    reading or writing), one torch thread as each process of the command uses;
(b) ``protok decode tokens.jsonl -o DIR`` as a subprocess with its default ``--workers`` (wall time,
    including interpreter start, model load, reading the records and writing one PDB file per record);
    ``cli_run`` is the command's own time from its summary line (after the model is loaded).

Rates are residues/s; the target is (b) >= 1,000 residues/s on 2 cores. ``ratio_vs_api`` puts (b) next to
(a) measured in the same run, because the machine is shared and its speed varies.
Results: ``benchmarks/results/decode_speed.json``.

Usage::

    python benchmarks/decode_speed.py --n 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import sample_chains

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--model", default=None, help="model name or folder (default: the shipped default)")
    ap.add_argument("--workers", type=int, default=None, help="--workers of protok decode (default: its own)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "decode_speed.json")
    args = ap.parse_args()

    import torch

    from protok.models.registry import DEFAULT_MODEL
    from protok.tokenizer import load, write_records

    model = args.model or DEFAULT_MODEL
    torch.set_num_threads(1)
    tok = load(model)
    sample = sample_chains(args.data, args.n, seed=args.seed)
    tokenized = tok.encode_chains(list(sample.values()), ids=list(sample))
    residues = sum(len(t) for t in tokenized)

    tok.decode(tokenized[0])  # warm up
    t0 = time.perf_counter()
    for t in tokenized:
        tok.decode(t)
    t_api = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens.jsonl"
        write_records(tokens, [t.to_record() for t in tokenized], "jsonl", tok.vocab)
        cmd = [str(Path(sys.executable).parent / "protok"), "decode", str(tokens), "-o", str(Path(tmp) / "out"),
               "--model", model, "--no-progress"]  # fmt: skip
        if args.workers is not None:
            cmd += ["--workers", str(args.workers)]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True)
        t_cli = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(f"protok decode failed: {res.stderr[-2000:]}")
        n_files = sum(1 for p in (Path(tmp) / "out").iterdir() if p.is_file())
        line = res.stderr.strip().splitlines()[-1]
        t_cli_run = float(re.search(r" in ([0-9.]+) s ", line).group(1))  # type: ignore[union-attr]

    rate = {"api": residues / t_api, "cli": residues / t_cli, "cli_run": residues / t_cli_run}
    result = {
        "command": " ".join(["python", "benchmarks/decode_speed.py", *sys.argv[1:]]),
        "model": model,
        "records": len(tokenized),
        "residues": residues,
        "files_written": n_files,
        "cli_summary": line,
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "seconds": {"api": round(t_api, 2), "protok_decode": round(t_cli, 2), "protok_decode_run": t_cli_run},
        "residues_per_s": {k: round(v) for k, v in rate.items()},
        "ratio_vs_api": {
            "protok_decode": round(rate["cli"] / rate["api"], 3),
            "protok_decode_run": round(rate["cli_run"] / rate["api"], 3),
        },  # fmt: skip
        "target": "protok_decode >= 1000 residues/s on 2 cores",
        "target_met": rate["cli"] >= 1000,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
