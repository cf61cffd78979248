"""Encoder forward time per 300-residue chain on 2 CPU threads, and uvu vs fully connected tensor products.

Measures, on a real 300-residue chain (the first 300 residues of ``structures/3mht.pdb``):

1. ms per forward (``torch.inference_mode``) for every preset in ``ENCODER_PRESETS`` and a few candidate
   sizes for the ``small`` preset (target: <= 20 ms);
2. the same encoder with its ``uvu`` tensor products swapped for ``o3.FullyConnectedTensorProduct`` with
   per-edge weights (same irreps in and out), and the two tensor products alone on the graph's edges;
   reported as slowdown ratios measured in this same run;
3. ``e3nn_tp:small``: the small preset with the hand-written ``lmax = 1`` fast path switched off
   (``layer.fast_tp = None`` in every layer, so each layer runs e3nn's generic ``o3.TensorProduct``; same
   function, same weight layout); reported as ``ratio_e3nn_tp_over_fast_encoder`` =
   median(``e3nn_tp:small``) / median(``preset:small``) per thread count, and the tensor product plus the
   sum over in-edges alone (``tp_sum:e3nn_uvu`` vs ``tp_sum:fast_uvu``, ``ratio_e3nn_over_fast_tp_sum``);
   ``plain_torch:small``: the same weights in :class:`protok.models.encoder_torch.PlainTorchEncoder`, the
   e3nn-free form the tokenizer runs (``ratio_plain_torch_over_e3nn_encoder``); ``plain_torch:v2``: the v2
   default model's encoder (``configs/provq_small_v2.toml``: 5 layers over 32 neighbours) in that form on
   the same chain's 32-neighbour graph, reported as ``ratio_v2_over_v1_plain_torch`` = median(``plain_torch:v2``) /
   median(``plain_torch:small``), and both again with the blocked inference path switched off
   (``plain_torch_unblocked:*``: one block, the plain neighbour sums; same bits), as
   ``ratio_blocked_over_unblocked_{v1,v2}``;
4. with one torch thread, the per-residue cost of ``Tokenizer.encode_featurized`` (the shipped
   ``protok-provq-small-v1`` model) over a seeded sample of real chains (256 chains of 40-512 residues from
   ``../shared/data/promod3/chains.npz``, ``np.random.default_rng(0)``, as in ``tokenize_speed.py``) at
   each ``--batch-residues`` value of ``max_batch_residues`` (``batch_size`` is set to the chain count, so
   only the residue cap groups chains); median us/residue per value and the fastest value, under
   ``"batch_residues"`` in the JSON. Skipped, with a note, when the data file is missing.

The machine may be shared, so configurations are timed round-robin (``--rounds`` rounds of ``--calls``
calls each, after a warm-up that also lets TorchScript specialise) and the median over all calls is
reported, together with the minimum and the load average.

Usage::

    python benchmarks/encoder_speed.py            # writes benchmarks/results/encoder_speed.json
    python benchmarks/encoder_speed.py --quick    # fewer repeats (and 1 round of the batch-residues sweep)
    python benchmarks/encoder_speed.py --batch-residues 1024 2048 4096
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
from _common import repo_relative, sample_chains
from e3nn import o3

from protok.graph import build_graph
from protok.models import encoder_ops
from protok.models.encoder import ENCODER_PRESETS, Encoder, EncoderConfig, _uvu_tensor_product
from protok.models.encoder_ops import NeighbourTable, mlp
from protok.models.encoder_torch import PlainTorchEncoder
from protok.structures import read_chain

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "encoder_speed.json"
TARGET_MS = 20.0
DEFAULT_DATA = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"
BATCH_RESIDUES = [512, 1024, 2048, 4096, 32768]
SWEEP_MODEL = "protok-provq-small-v1"
SWEEP_CHAINS = 256

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
        layer.fast_tp = None  # the fast path implements the uvu product only; use ``layer.tp``
        layer.radial = mlp([cfg.radial_hidden, cfg.radial_hidden, fc.weight_numel])
        layer.lin_out = o3.Linear(fc.irreps_out, layer.gate.irreps_in)
    return enc.eval()


V2_CONFIG = REPO / "configs" / "provq_small_v2.toml"


def _unblocked(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run with the blocked inference path off (one edge block, the plain neighbour sums)."""

    def run() -> object:
        with encoder_ops.unblocked():
            return fn()

    return run


def _e3nn_tp_variant(enc: Encoder) -> Encoder:
    """The same encoder running e3nn's generic ``o3.TensorProduct`` instead of the hand-written fast path."""
    for layer in enc.layers:
        layer.fast_tp = None
    return enc.eval()


def _batch_residues_sweep(data: Path, values: list[int], rounds: int) -> dict | None:
    """Per-residue cost of ``Tokenizer.encode_featurized`` at each ``max_batch_residues``, one torch thread."""
    if not data.is_file():
        print(f"note: {data} not found; skipping the --batch-residues section")
        return None
    from protok.tokenizer import load
    from protok.tokenizer.api import featurize

    torch.set_num_threads(1)
    chains = list(sample_chains(data, SWEEP_CHAINS, seed=0).values())
    tok = load(SWEEP_MODEL)
    items = [featurize(c, tok.k_neighbours) for c in chains]
    residues = sum(len(c) for c in chains)
    tok.batch_size = len(items)  # only the residue cap groups chains
    calls = {}
    for n in values:
        tok.max_batch_residues = n
        calls[n] = sum(1 for _ in tok._batches(items))
        tok.encode_featurized(items[:32])  # warm-up
    samples: dict[int, list[float]] = {n: [] for n in values}
    for _ in range(rounds):
        for n in values:
            tok.max_batch_residues = n
            t0 = time.perf_counter()
            tok.encode_featurized(items)
            samples[n].append((time.perf_counter() - t0) / residues * 1e6)
    per_n = {
        str(n): {
            "median_us_per_residue": statistics.median(s),
            "min_us_per_residue": min(s),
            "encoder_calls": calls[n],
            "mean_residues_per_call": residues / calls[n],
            "n": len(s),
        }
        for n, s in samples.items()
    }
    fastest = min(values, key=lambda n: per_n[str(n)]["median_us_per_residue"])
    return {
        "what": "Tokenizer.encode_featurized over all chains, us per residue; median over round-robin rounds",
        "model": SWEEP_MODEL,
        "data": repo_relative(data),
        "sample": f"np.random.default_rng(0), {SWEEP_CHAINS} chains of 40-512 residues",
        "chains": len(chains),
        "residues": residues,
        "k_neighbours": tok.k_neighbours,
        "batch_size": tok.batch_size,
        "torch_threads": torch.get_num_threads(),
        "rounds": rounds,
        "fastest": fastest,
        "by_max_batch_residues": per_n,
    }


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
    parser.add_argument(
        "--batch-residues",
        type=int,
        nargs="+",
        default=BATCH_RESIDUES,
        help="max_batch_residues values for the Tokenizer.encode_featurized sweep (1 thread)",
    )
    parser.add_argument("--batch-rounds", type=int, default=3, help="rounds of the batch-residues sweep")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ProMod3 chains.npz for the sweep")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 calls; 1 round of the sweep")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.calls = 2, 5
        args.batch_rounds = 1
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
    encoders["e3nn_tp:small"] = _e3nn_tp_variant(Encoder(small))
    plain = PlainTorchEncoder(small).eval()  # the form the tokenizer runs, same weights as preset:small
    plain.load_state_dict(encoders["preset:small"].state_dict())

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

    from protok.training.config import load_config

    v2_cfg = load_config(V2_CONFIG).model.encoder
    plain_v2 = PlainTorchEncoder(v2_cfg).eval()
    graph_v2 = build_graph(chain, k=v2_cfg.k)

    fns: dict[str, Callable[[], object]] = {name: (lambda e=e: e(graph)) for name, e in encoders.items()}
    fns["plain_torch:small"] = lambda: plain(graph)
    fns["plain_torch:v2"] = lambda: plain_v2(graph_v2)
    fns["plain_torch_unblocked:small"] = _unblocked(lambda: plain(graph))
    fns["plain_torch_unblocked:v2"] = _unblocked(lambda: plain_v2(graph_v2))
    fns["tp_only:uvu"] = lambda: uvu(x, sh, w_uvu)
    fns["tp_only:fully_connected"] = lambda: fc(x, sh, w_fc)
    # Tensor product + sum over in-edges, from node features: e3nn's uvu vs the encoder's fast path.
    src, dst = graph.edge_index
    table = NeighbourTable(dst, n_res)
    fast = encoders["preset:small"].layers[0].fast_tp
    h = torch.randn(n_res, irreps.dim)
    fns["tp_sum:e3nn_uvu"] = lambda: table.sum(uvu(h[src], sh, w_uvu))
    fns["tp_sum:fast_uvu"] = lambda: fast.aggregate(h, sh, w_uvu, src, table)

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
            "ratio_e3nn_tp_over_fast_encoder": med["e3nn_tp:small"] / med["preset:small"],
            "ratio_e3nn_over_fast_tp_sum": med["tp_sum:e3nn_uvu"] / med["tp_sum:fast_uvu"],
            "ratio_plain_torch_over_e3nn_encoder": med["plain_torch:small"] / med["preset:small"],
            "ratio_v2_over_v1_plain_torch": med["plain_torch:v2"] / med["plain_torch:small"],
            "ratio_blocked_over_unblocked_v1": med["plain_torch:small"] / med["plain_torch_unblocked:small"],
            "ratio_blocked_over_unblocked_v2": med["plain_torch:v2"] / med["plain_torch_unblocked:v2"],
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
    sweep = _batch_residues_sweep(args.data, args.batch_residues, args.batch_rounds)
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
    if sweep is not None:
        result["batch_residues"] = sweep
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
        print(
            f"e3nn TensorProduct / fast path: encoder {res['ratio_e3nn_tp_over_fast_encoder']:.1f}x, "
            f"tensor product + neighbour sum {res['ratio_e3nn_over_fast_tp_sum']:.1f}x"
        )
        ratio = res["ratio_plain_torch_over_e3nn_encoder"]
        print(f"PlainTorchEncoder (no e3nn) / Encoder, small: {ratio:.2f}x")
        print(
            f"v2 encoder (5 layers, k=32) / v1 (3 layers, k=16), tokenizer form: "
            f"{res['ratio_v2_over_v1_plain_torch']:.2f}x; blocked / unblocked: "
            f"v1 {res['ratio_blocked_over_unblocked_v1']:.2f}x, v2 {res['ratio_blocked_over_unblocked_v2']:.2f}x"
        )
    if sweep is not None:
        print(
            f"--- Tokenizer.encode_featurized, 1 thread, {sweep['chains']} chains, {sweep['residues']} residues, "
            f"{sweep['rounds']} round(s)"
        )
        for n, row in sweep["by_max_batch_residues"].items():
            print(
                f"max_batch_residues {n:>6}  median {row['median_us_per_residue']:7.1f} us/residue  "
                f"min {row['min_us_per_residue']:7.1f}  ({row['encoder_calls']} calls, "
                f"{row['mean_residues_per_call']:.0f} residues/call)"
            )
        print(f"fastest: max_batch_residues {sweep['fastest']}")
    print(f"load {load_before[0]:.1f} -> {result['load_avg_after'][0]:.1f}; wrote {args.out}")


if __name__ == "__main__":
    main()
