"""Where the worker pool of ``protok tokenize`` starts to pay: wall time with and without it, by input count.

For each ``--counts`` value, writes that many ProMod3 chains (a seeded sample, as ``tokenize_speed.py``) as PDB
files and runs ``protok tokenize DIR -o out.jsonl`` in a fresh interpreter twice: with the pool forced on
(``MIN_FILES_FOR_POOL = 1``) and forced off (in-process); the best of ``--repeats`` runs each. The default
``MIN_FILES_FOR_POOL`` (:mod:`protok.tokenizer.workers`) should sit where the two cross.
Results: ``benchmarks/results/pool_threshold.json``.

Usage::

    python benchmarks/pool_threshold.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import sample_chains, write_chains

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"


def _run(folder: Path, out: Path, threshold: int) -> float:
    code = (
        "import sys; import protok.tokenizer.workers as w; "
        f"w.MIN_FILES_FOR_POOL = {threshold}; from protok.cli.main import main; "
        f"sys.argv = ['protok', 'tokenize', {str(folder)!r}, '-o', {str(out)!r}, '--no-progress']; main()"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--counts", type=int, nargs="+", default=[64, 128, 256, 384])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "pool_threshold.json")
    args = ap.parse_args()

    chains = sample_chains(args.data, max(args.counts), seed=5)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.counts:
            folder = Path(tmp) / f"in{n}"
            folder.mkdir()
            write_chains(dict(list(chains.items())[:n]), folder)
            best = {}
            for label, threshold in (("pool_s", 1), ("in_process_s", 10**9)):
                best[label] = min(
                    _run(folder, Path(tmp) / f"out_{n}_{label}_{r}.jsonl", threshold)
                    for r in range(args.repeats)
                )
            rows.append({"files": n, **{k: round(v, 2) for k, v in best.items()}})
            print(rows[-1])
    from protok.tokenizer.workers import MIN_FILES_FOR_POOL

    result = {
        "command": " ".join(["python", "benchmarks/pool_threshold.py", *sys.argv[1:]]),
        "cpu_count": os.cpu_count(),
        "rows": rows,
        "min_files_for_pool": MIN_FILES_FOR_POOL,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
