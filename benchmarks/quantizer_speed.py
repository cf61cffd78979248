"""Quantizer cost: forward + backward per 300-residue chain and per 8 x 300 batch, against a Linear(D, D).

For every quantizer (K = 512, D = 128 by default) in training mode, one step is
``out = q(z, progress=0.3); (out.quantized.square().sum() + out.loss).backward()``; the reference in the same
script is ``lin(z).square().sum().backward()`` with ``lin = nn.Linear(D, D)``. Eval-mode tokenization
(forward only, no grad) is timed too. Methods are interleaved round by round (so machine load hits all
alike); each round times ``--iters`` calls, and the best round's mean per call is reported, with the ratio
to the Linear reference of the same kind (train or eval). Results go to
``benchmarks/results/quantizer_speed.json``.

The machine's load average is recorded with the results: on a busy machine, ``--threads 2`` mostly
measures OpenMP threads waiting for each other, and ``--threads 1`` is the more stable reading.

Usage::

    python benchmarks/quantizer_speed.py --threads 2 --rounds 5 --iters 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from protok.quantizers import QuantizerConfig, build_quantizer

REPO = Path(__file__).resolve().parents[1]

VARIANTS: dict[str, dict[str, Any]] = {
    "vq": {"kind": "vq"},
    "ema": {"kind": "ema"},
    "aminoaseed": {"kind": "aminoaseed"},
    "fsq": {"kind": "fsq", "fsq_levels": [8, 8, 8]},
    "provq-interp": {"kind": "provq", "mechanism": "interp", "schedule": "cosine", "anneal_end": 0.6},
    "provq-stochastic": {"kind": "provq", "mechanism": "stochastic", "schedule": "cosine", "anneal_end": 0.6},
}


def _timer(fn: Callable[[], None], iters: int) -> float:
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def _train_step(module: nn.Module, z: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        module.zero_grad(set_to_none=True)
        x = z.detach().requires_grad_(True)
        if isinstance(module, nn.Linear):
            module(x).square().sum().backward()
        else:
            out = module(x, progress=0.3)
            (out.quantized.square().sum() + out.loss).backward()

    return step


def _eval_step(module: nn.Module, z: torch.Tensor) -> Callable[[], None]:
    @torch.no_grad()
    def step() -> None:
        module(z) if isinstance(module, nn.Linear) else module(z, progress=1.0)

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codebook-size", type=int, default=512)
    ap.add_argument("--dim", type=int, default=128, help="encoder output dimension")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quantizer_speed.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)

    shapes = {"chain_300": 300, "batch_8x300": 8 * 300}
    data = {name: torch.randn(n, args.dim, device=dev) for name, n in shapes.items()}
    modules: dict[str, nn.Module] = {"linear": nn.Linear(args.dim, args.dim)}
    for name, over in VARIANTS.items():
        modules[name] = build_quantizer(
            QuantizerConfig(codebook_size=args.codebook_size, dim=args.dim, **over)
        )
    for m in modules.values():
        m.to(dev)

    best: dict[str, dict[str, float]] = {}
    for shape, z in data.items():
        for mode, make in (("train", _train_step), ("eval", _eval_step)):
            steps = {}
            for name, m in modules.items():
                m.train(mode == "train")
                steps[name] = make(m, z)
                steps[name]()  # warm-up (and data-dependent init on the first training call)
            for _ in range(args.rounds):
                for name, step in steps.items():
                    m = modules[name]
                    m.train(mode == "train")
                    t = _timer(step, args.iters)
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                    key = f"{shape}/{mode}"
                    best.setdefault(key, {})[name] = min(best.get(key, {}).get(name, float("inf")), t)

    table: dict[str, Any] = {}
    for key, times in best.items():
        ref = times["linear"]
        table[key] = {
            name: {"ms": round(1e3 * t, 4), "ratio_to_linear": round(t / ref, 2)} for name, t in times.items()
        }
    results = {
        "codebook_size": args.codebook_size,
        "dim": args.dim,
        "threads": args.threads,
        "device": str(dev),
        "rounds": args.rounds,
        "iters": args.iters,
        "torch": torch.__version__,
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "step": "train = forward + backward at progress 0.3; eval = forward, no grad",
        "results": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for key, rows in table.items():
        print(key)
        for name, r in rows.items():
            print(f"  {name:18s} {r['ms']:9.3f} ms  x{r['ratio_to_linear']:.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
