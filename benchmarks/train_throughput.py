"""Training throughput (residues/s) of the ``small`` preset, relative to a forward-only pass.

Measured on real ProMod3 chains (``../shared/data/promod3/chains.npz``): batches of ``--batch-size``
chains cropped to ``--crop`` residues exactly as training crops them (graphs pre-built, so the numbers
are model time; graph building, done in DataLoader workers during training, is timed separately).
For each quantizer kind, in the same process and on the same batches:

* ``forward``: ``model(batch, progress)`` under ``torch.no_grad`` in train mode (the reference);
* ``train``: forward + backward + gradient clipping + AdamW step (what one training step costs);
* ``ratio = train residues/s / forward residues/s``.

Configurations are timed round-robin for ``--rounds`` rounds (the machine may be shared) and the median
step time is reported, with the load average. On CUDA (when available) the same is run with bf16 autocast.

Usage::

    python benchmarks/train_throughput.py            # writes benchmarks/results/train_throughput.json
    python benchmarks/train_throughput.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Batch

from protok.graph import build_graph
from protok.models import ModelConfig, ProtokModel
from protok.structures.promod3 import Promod3Chains
from protok.training.config import OptimConfig
from protok.training.data import crop_window
from protok.training.loop import build_optimizer

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "train_throughput.json"
PROMOD3 = (
    Path(os.environ.get("PROTOK_SHARED_DATA", REPO.parent / "shared" / "data")) / "promod3" / "chains.npz"
)


def _batches(n_batches: int, batch_size: int, crop: int, knn: int) -> tuple[list[Batch], float]:
    db = Promod3Chains(PROMOD3)
    rng = np.random.default_rng(0)
    long_enough = np.nonzero(db.lengths >= crop)[0]
    picks = rng.choice(long_enough, n_batches * batch_size, replace=False)
    graphs, t0 = [], time.perf_counter()
    for i in picks:
        c = db.chain(int(i))
        s, e = crop_window(len(c), crop, rng)
        graphs.append(build_graph(c.slice(s, e), k=knn))
    graph_s = time.perf_counter() - t0
    res_per_s = sum(g.num_nodes for g in graphs) / graph_s
    batches = [Batch.from_data_list(graphs[i : i + batch_size]) for i in range(0, len(graphs), batch_size)]
    return batches, res_per_s


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per configuration per round")
    ap.add_argument("--kinds", default="provq,vq,aminoaseed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="1 round, 2 steps, provq only")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.steps, args.kinds = 1, 2, "provq"
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    kinds = args.kinds.split(",")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])

    base = ModelConfig.preset("small")
    batches, graph_res_s = _batches(args.steps + 1, args.batch_size, args.crop, base.encoder.k)
    residues = [int(b.num_nodes) for b in batches]
    results: dict[str, dict] = {}
    for device in devices:
        autocast = (
            (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
            if device.type == "cuda"
            else contextlib.nullcontext
        )
        dev_batches = [b.to(device) for b in batches]
        setups = {}
        for kind in kinds:
            d = base.to_dict()
            d["quantizer"]["kind"] = kind
            model = ProtokModel(ModelConfig.from_dict(d)).to(device).train()
            opt = build_optimizer(model, OptimConfig())
            with autocast():  # warm-up (also k-means codebook init on the first batch)
                out = model(dev_batches[0], 0.1)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            setups[kind] = (model, opt)
        times: dict[str, list[float]] = {f"{k}/{m}": [] for k in kinds for m in ("forward", "train")}
        for _ in range(args.rounds):
            for kind, (model, opt) in setups.items():
                for i, b in enumerate(dev_batches[1:]):
                    _sync(device)
                    t = time.perf_counter()
                    with torch.no_grad(), autocast():
                        model(b, 0.3)
                    _sync(device)
                    times[f"{kind}/forward"].append((time.perf_counter() - t) / residues[i + 1])
                    t = time.perf_counter()
                    with autocast():
                        out = model(b, 0.3)
                    opt.zero_grad(set_to_none=True)
                    out.loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    opt.step()
                    _sync(device)
                    times[f"{kind}/train"].append((time.perf_counter() - t) / residues[i + 1])
        per_res = {k: statistics.median(v) for k, v in times.items()}
        mean_res = float(np.mean(residues[1:]))
        dev_res = {}
        for kind in kinds:
            fwd, trn = 1.0 / per_res[f"{kind}/forward"], 1.0 / per_res[f"{kind}/train"]
            dev_res[kind] = {
                "forward_residues_per_s": round(fwd, 1),
                "train_residues_per_s": round(trn, 1),
                "train_over_forward": round(trn / fwd, 3),
                "train_s_per_step": round(mean_res / trn, 3),
            }
        results[str(device) + (" bf16" if device.type == "cuda" else "")] = dev_res
        print(json.dumps({str(device): dev_res}, indent=2))

    report = {
        "benchmark": "train_throughput",
        "command": " ".join(["python", "benchmarks/train_throughput.py", *sys.argv[1:]]),
        "preset": "small",
        "batch_size": args.batch_size,
        "crop": args.crop,
        "mean_residues_per_batch": float(np.mean(residues[1:])),
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "torch_threads": args.threads,
        "graph_build_residues_per_s_one_process": round(graph_res_s, 1),
        "results": results,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_after": os.getloadavg(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
