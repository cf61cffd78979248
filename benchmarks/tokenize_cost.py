"""CPU cost of tokenizing with encoders of other depths and neighbour counts, against biotite's plain read.

Writes ``--n`` real chains (the seeded sample of ``tokenize_speed.py``) as PDB files, builds random-init
models with the architecture of ``--model``'s config (default: the shipped default) but for the encoder's
``num_layers`` and ``k`` (each pair of ``--arch``), and times, in this process with one torch thread, the CPU
seconds of ``run_tokenize`` on all files (no worker processes: parse, graph, encoder and writing one after
the other) and of biotite's plain read of the same files. Rounds alternate between all of them; the minimum
over ``--rounds`` rounds is reported, and each as a multiple of the plain read (CPU time moves much less
than wall time on a shared machine). The weights do not change the work, so random ones measure the cost of
a trained model of that shape.

    python benchmarks/tokenize_cost.py --n 400 --arch 5x32 5x24 5x20 5x16 4x24 3x16 \
        --out benchmarks/results/tokenize_cost.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from _common import biotite_read, sample_chains, write_chains

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"


def _arch(text: str) -> tuple[int, int]:
    layers, k = text.lower().split("x")
    return int(layers), int(k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--model", default=None, help="model whose config the encoders vary (default: shipped)")
    ap.add_argument("--arch", nargs="+", default=["5x32", "5x24", "5x16", "3x16"], help="LAYERSxK")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)

    import protok
    from protok.models.io import read_config
    from protok.models.registry import DEFAULT_MODEL
    from protok.tokenizer.config import TokenizeConfig
    from protok.tokenizer.runner import run_tokenize
    from protok.tokenizer.testing import make_test_model

    base, _ = read_config(args.model or DEFAULT_MODEL)
    chains = sample_chains(args.data, args.n, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        paths = sorted(write_chains(chains, tmpd, "pdb"))
        toks = {}
        for name in args.arch:
            layers, k = _arch(name)
            cfg = dataclasses.replace(base, encoder=dataclasses.replace(base.encoder, num_layers=layers, k=k))
            folder = make_test_model(tmpd / f"m{name}", list(chains.values())[:8], config=cfg, seed=args.seed)
            toks[name] = protok.load(str(folder))
        cpu: dict[str, list[float]] = {"plain_read": [], **{name: [] for name in toks}}
        for r in range(args.rounds):
            t = time.process_time()
            for p in paths:
                biotite_read(p)
            cpu["plain_read"].append(time.process_time() - t)
            for name, tok in toks.items():
                cfg = TokenizeConfig(
                    inputs=[str(p) for p in paths],
                    output=tmpd / f"{name}_{r}.jsonl",
                    workers=0,
                    progress=False,
                )
                t = time.process_time()
                run_tokenize(tok, cfg)
                cpu[name].append(time.process_time() - t)
    best = {name: min(v) for name, v in cpu.items()}
    result = {
        "command": "python benchmarks/tokenize_cost.py "
        + " ".join(
            [f"--n {args.n}", "--arch", *args.arch] + ([f"--model {args.model}"] if args.model else [])
        ),
        "n_files": len(paths),
        "residues": int(sum(len(c) for c in chains.values())),
        "base_model": args.model or DEFAULT_MODEL,
        "rounds": args.rounds,
        "cpu_seconds_min": {k: round(v, 3) for k, v in best.items()},
        "times_plain_read": {k: round(v / best["plain_read"], 3) for k, v in best.items()},
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for name, x in result["times_plain_read"].items():
        print(f"{name:>12}: {best[name]:7.2f} s CPU = {x:.2f} x plain read")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
