"""End-to-end ``protok tokenize`` speed vs biotite's plain read and Foldseek 3Di, in one run.

Writes ``--n`` real chains from ``../shared/data/promod3/chains.npz`` (a seeded sample of chains with 40-512
residues) as PDB files (``--format cif``: mmCIF) to a temporary folder, then times on the same files:

(a) biotite plain read: ``PDBFile.read(path).get_structure(model=1)`` - the floor no tokenizer can beat;
(b) Foldseek 3Di: (a) then ``biotite.structure.alphabet.to_3di(atoms)``;
(c) ``protok tokenize DIR -o out.jsonl`` as a subprocess with its default ``--workers`` (wall time, including
    interpreter start and model load; ``protok_cli_run`` is the run's own time from its summary line, from
    the model being loaded to the last shard; the command starts its workers before that, so their start-up
    overlaps the model load), and the same run through the library in this process (``run_tokenize`` with the
    CLI's encoder threads, starting its worker inside the run; no interpreter start-up).

(a) and (b) run in this process, one file at a time. Rates are files/s; the target is (c) >= 50 % of (a).
``cpu_seconds`` records the CPU time of (a) and of the command (all its processes): on a shared, loaded
machine these move much less than the wall times.
Start-up (importing torch, torch_geometric and e3nn, loading the model) is paid once per run — the gap
between ``protok_cli`` and ``protok_cli_run`` — so the wall-clock ratio depends on ``--n``; the default
2,000 files is still a small job for the tool.
Uses ``--model`` when given, else a random-init model with a codebook seeded from real residues
(:func:`protok.tokenizer.testing.make_test_model`): the architecture of ``--config`` (a training config,
e.g. ``configs/provq_small_v2.toml`` for the v2 encoder of 5 layers over 32 neighbours), by default the
small preset (the shipped small model's architecture and cost).
Results: ``benchmarks/results/tokenize_speed.json``.

Usage::

    python benchmarks/tokenize_speed.py --n 2000
    python benchmarks/tokenize_speed.py --n 2000 --config configs/provq_small_v2.toml \
        --out benchmarks/results/tokenize_speed_v2.json
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

from _common import biotite_read, repo_relative, sample_chains, time_each, write_chains

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument(
        "--workers", type=int, default=None, help="--workers of protok tokenize (default: its own)"
    )
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--model", default=None, help="model name or folder (default: random-init test model)")
    ap.add_argument(
        "--config", type=Path, default=None, help="training config whose [model] the random-init model has"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--format", choices=["pdb", "cif"], default="pdb", help="file format the chains are written in"
    )
    ap.add_argument("--out", type=Path, default=None, help="default: results/tokenize_speed[_cif].json")
    args = ap.parse_args()
    if args.out is None:
        suffix = "" if args.format == "pdb" else f"_{args.format}"
        args.out = REPO / "benchmarks" / "results" / f"tokenize_speed{suffix}.json"

    import biotite
    import torch
    from biotite.structure.alphabet import to_3di

    from protok.tokenizer import load
    from protok.tokenizer.config import TokenizeConfig
    from protok.tokenizer.runner import run_tokenize
    from protok.tokenizer.testing import make_test_model
    from protok.tokenizer.workers import default_workers, encoder_threads

    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        folder = tmpd / "in"
        folder.mkdir()
        sample = sample_chains(args.data, args.n, seed=args.seed)
        chains = list(sample.values())
        paths = write_chains(sample, folder, args.format)
        residues = sum(len(c) for c in chains)
        arch = None
        if args.config is not None:
            from protok.training.config import load_config

            arch = load_config(args.config).model
        model = args.model or str(make_test_model(tmpd / "model", chains[:8], config=arch, seed=args.seed))

        plain = biotite_read

        def three_di(p: Path):
            return to_3di(plain(p))

        time_each(plain, paths[:20])  # warm caches
        cpu0 = time.process_time()
        t_plain = time_each(plain, paths)
        cpu_plain = time.process_time() - cpu0
        t_3di = time_each(three_di, paths)

        workers = default_workers() if args.workers is None else args.workers
        out = tmpd / "tokens.jsonl"
        cmd = [str(Path(sys.executable).parent / "protok"), "tokenize", str(folder), "-o", str(out), "--model", model,
               "--workers", str(workers), "--batch-size", str(args.batch_size), "--no-progress"]  # fmt: skip
        t0, cpu0 = time.perf_counter(), _children_cpu()
        res = subprocess.run(cmd, capture_output=True, text=True)
        t_cli, cpu_cli = time.perf_counter() - t0, _children_cpu() - cpu0
        if res.returncode != 0:
            raise SystemExit(f"protok tokenize failed: {res.stderr[-2000:]}")
        n_rec = sum(1 for _ in out.open())
        cli_line = res.stderr.strip().splitlines()[-1]
        t_cli_run = float(re.search(r" in ([0-9.]+) s ", cli_line).group(1))  # type: ignore[union-attr]

        torch.set_num_threads(encoder_threads(workers))  # as the CLI does
        tok = load(model, batch_size=args.batch_size)
        cfg = TokenizeConfig(inputs=[str(p) for p in sorted(paths)], output=tmpd / "lib.jsonl", workers=workers,
                        progress=False)  # fmt: skip
        t0 = time.perf_counter()
        summary = run_tokenize(tok, cfg)
        t_lib = time.perf_counter() - t0

    times = (("plain", t_plain), ("3di", t_3di), ("cli", t_cli), ("cli_run", t_cli_run), ("lib", t_lib))
    rate = {k: args.n / t for k, t in times}
    result = {
        "command": " ".join(["python", "benchmarks/tokenize_speed.py", *sys.argv[1:]]),
        "n_files": args.n,
        "format": args.format,
        "residues": residues,
        "records_written": n_rec,
        "cli_summary": cli_line,
        "lib_summary": summary.line(),
        "model": args.model
        or f"random-init {repo_relative(args.config) if args.config else 'small'} (make_test_model)",
        "workers": workers,
        "batch_size": args.batch_size,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "python": platform.python_version(),
        "biotite": biotite.__version__,
        "seconds": {
            "plain_read": t_plain,
            "3di": t_3di,
            "protok_cli": t_cli,
            "protok_cli_run": t_cli_run,
            "protok_lib": t_lib,
        },  # fmt: skip
        # CPU seconds (the command's: all its processes); on a loaded machine these move less than wall times
        "cpu_seconds": {"plain_read": round(cpu_plain, 2), "protok_cli": round(cpu_cli, 2)},
        "files_per_s": {k: round(v, 2) for k, v in rate.items()},
        "ratio_vs_plain_read": {
            "3di": round(rate["3di"] / rate["plain"], 3),
            "protok_cli": round(rate["cli"] / rate["plain"], 3),
            "protok_cli_run": round(rate["cli_run"] / rate["plain"], 3),
            "protok_lib": round(rate["lib"] / rate["plain"], 3),
        },
        "target": "protok_cli >= 0.5 x plain_read",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
