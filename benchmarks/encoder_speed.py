"""Encoder forward time per 300-residue chain on 2 CPU threads, and uvu vs fully connected tensor products.

Measures, on a real 300-residue chain (the first 300 residues of ``structures/3mht.pdb``):

1. ms per forward (``torch.inference_mode``) for every preset in ``ENCODER_PRESETS`` and a few candidate
   sizes for the ``small`` preset (target: <= 20 ms);
2. the same encoder with its ``uvu`` tensor products swapped for ``o3.FullyConnectedTensorProduct`` with
   per-edge weights (same irreps in and out), and the two tensor products alone on the graph's edges;
   reported as slowdown ratios measured in this same run.

The machine may be shared, so configurations are timed round-robin (``--rounds`` rounds of ``--calls``
calls each, after a warm-up that also lets TorchScript specialise) and the median over all calls is
reported, together with the minimum and the load average.

Usage::

    python benchmarks/encoder_speed.py            # writes benchmarks/results/encoder_speed.json
    python benchmarks/encoder_speed.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch
from e3nn import o3

from protok.graph import build_graph
from protok.models.encoder import ENCODER_PRESETS, Encoder, EncoderConfig, _mlp, _uvu_tensor_product
from protok.structures import read_chain

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "encoder_speed.json"
TARGET_MS = 20.0

# Candidate sizes considered for the "small" preset (overrides of the small preset).
CANDIDATES: dict[str, dict[str, int]] = {
    "s16v4_l3": {"scalar_channels": 16, "vector_channels": 4},
    "s32v8_l2": {"num_layers": 2},
    "s32v8_l4": {"num_layers": 4},
    "s48v12_l3": {"scalar_channels": 48, "vector_channels": 12},
    "s64v16_l3": {"scalar_channels": 64, "vector_channels": 16, "radial_hidden": 64},
    "s32v8_l3_lmax2": {"lmax": 2},
}


def _fully_connected_variant(enc: Encoder) -> Encoder:
    """The same encoder with every uvu tensor product replaced by a fully connected one (per-edge weights)."""
    cfg = enc.config
    for layer in enc.layers:
        fc = o3.FullyConnectedTensorProduct(
            enc.irreps_hidden, enc.irreps_sh, enc.irreps_hidden, shared_weights=False, internal_weights=False
        )
        layer.tp = fc
        layer.radial = _mlp([cfg.radial_hidden, cfg.radial_hidden, fc.weight_numel])
        layer.lin_out = o3.Linear(fc.irreps_out, layer.gate.irreps_in)
    return enc.eval()


def _time_round_robin(fns: dict[str, Callable[[], object]], warmup: int, rounds: int, calls: int) -> dict:
    samples: dict[str, list[float]] = {name: [] for name in fns}
    with torch.inference_mode():
        for fn in fns.values():
            for _ in range(warmup):
                fn()
        for _ in range(rounds):
            for name, fn in fns.items():
                for _ in range(calls):
                    t0 = time.perf_counter()
                    fn()
                    samples[name].append((time.perf_counter() - t0) * 1e3)
    return {
        name: {"median_ms": statistics.median(s), "min_ms": min(s), "n": len(s)}
        for name, s in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[2], help="torch thread counts to time (e.g. 1 2)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 calls")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.calls = 2, 5
    load_before = os.getloadavg()

    chain = read_chain(REPO / "structures" / "3mht.pdb").slice(0, 300)
    graph = build_graph(chain)
    n_res, n_edges = graph.num_nodes, graph.edge_index.shape[1]

    configs: dict[str, EncoderConfig] = {f"preset:{k}": v for k, v in ENCODER_PRESETS.items()}
    small = ENCODER_PRESETS["small"]
    configs.update({f"candidate:{k}": replace(small, **v) for k, v in CANDIDATES.items()})
    torch.manual_seed(0)
    encoders = {name: Encoder(cfg).eval() for name, cfg in configs.items()}
    encoders["fully_connected:small"] = _fully_connected_variant(Encoder(small))

    # The tensor products alone, on this graph's edges, with the small preset's irreps.
    irreps = encoders["preset:small"].irreps_hidden
    irreps_sh = encoders["preset:small"].irreps_sh
    uvu, _ = _uvu_tensor_product(irreps, irreps_sh, irreps)
    fc = o3.FullyConnectedTensorProduct(
        irreps, irreps_sh, irreps, shared_weights=False, internal_weights=False
    )
    x = torch.randn(n_edges, irreps.dim)
    sh = o3.spherical_harmonics(irreps_sh, graph.edge_vec, normalize=True, normalization="component")
    w_uvu, w_fc = torch.randn(n_edges, uvu.weight_numel), torch.randn(n_edges, fc.weight_numel)

    fns: dict[str, Callable[[], object]] = {name: (lambda e=e: e(graph)) for name, e in encoders.items()}
    fns["tp_only:uvu"] = lambda: uvu(x, sh, w_uvu)
    fns["tp_only:fully_connected"] = lambda: fc(x, sh, w_fc)

    by_threads = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        timings = _time_round_robin(fns, args.warmup, args.rounds, args.calls)
        med = {k: v["median_ms"] for k, v in timings.items()}
        by_threads[str(threads)] = {
            "small_ms": med["preset:small"],
            "small_meets_target": med["preset:small"] <= TARGET_MS,
            "ratio_fully_connected_over_uvu_encoder": med["fully_connected:small"] / med["preset:small"],
            "ratio_fully_connected_over_uvu_tp_only": med["tp_only:fully_connected"] / med["tp_only:uvu"],
            "timings": timings,
        }
    models = {
        name: {
            "params": sum(p.numel() for p in enc.parameters()),
            "irreps": str(enc.irreps_hidden),
            "config": asdict(enc.config),
        }
        for name, enc in encoders.items()
    }
    result = {
        "what": "Encoder forward (inference_mode) per chain, ms; median over round-robin calls",
        "chain": f"structures/3mht.pdb chain A residues 1-300 ({n_res} residues, {n_edges} edges, k=16)",
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        "target_small_ms": TARGET_MS,
        "by_threads": by_threads,
        "models": models,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for threads, res in by_threads.items():
        width = max(len(k) for k in res["timings"])
        print(f"--- {threads} thread(s)")
        for name, row in res["timings"].items():
            print(f"{name:<{width}}  median {row['median_ms']:8.2f} ms  min {row['min_ms']:8.2f} ms")
        print(
            f"fully connected / uvu: encoder {res['ratio_fully_connected_over_uvu_encoder']:.1f}x, "
            f"tensor product alone {res['ratio_fully_connected_over_uvu_tp_only']:.1f}x"
        )
    print(f"load {load_before[0]:.1f} -> {result['load_avg_after'][0]:.1f}; wrote {args.out}")


if __name__ == "__main__":
    main()
