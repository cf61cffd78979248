"""Can the ``small`` ProtokModel overfit 8 real chains to backbone RMSD < 1 Å on a CPU?

Trains ``MODEL_PRESETS["small"]`` (ProVQ by default; ``--quantizer vq`` for vanilla VQ) on 8 real PDB
chains from ``../shared/data/promod3/chains.npz`` (the first 8 chains with ``--min-len`` to ``--max-len``
residues; one batch holds all 8), with AdamW (warm-up, cosine decay) and gradient clipping. ``progress``
(ProVQ hardness) runs from 0 to 1 over ``--steps`` steps, so the model is fully discrete for the second
half of training.

Every ``--eval-every`` steps it evaluates the *discrete round trip* exactly as a user would see it:
``idx = model.encode(batch)`` (eval mode, token ids only) then ``model.decode(idx, layout)``, and reports
backbone RMSD (N, CA, C, O, Kabsch-superposed per chain), CA RMSD, TM-score and lDDT-CA per chain. It stops
when the mean and max backbone RMSD over the 8 chains are below ``--target`` (after the model is fully
discrete), when ``--steps`` is reached, or after ``--time-limit`` seconds.

    nice python benchmarks/overfit_small.py                       # writes benchmarks/results/overfit_small.txt
    python benchmarks/overfit_small.py --steps 50 --out -         # quick look, print only
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Batch

from protok.graph import build_graph
from protok.metrics import backbone_rmsd, ca_rmsd, lddt_ca, tm_score
from protok.models import ModelConfig, ProtokModel
from protok.structures import Promod3Chains, ProteinChain
from protok.training.config import apply_overrides

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NPZ = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"


def load_chains(npz: Path, n: int, min_len: int, max_len: int) -> list[ProteinChain]:
    """The first ``n`` chains of the ProMod3 export with min_len <= L <= max_len."""
    db = Promod3Chains(npz)
    picks = np.flatnonzero((db.lengths >= min_len) & (db.lengths <= max_len))[:n]
    return [db.chain(int(i)) for i in picks]


@torch.no_grad()
def evaluate(model: ProtokModel, batch: Batch, chains: list[ProteinChain]) -> dict[str, np.ndarray]:
    """Discrete round trip: encode -> token ids -> decode; per-chain metrics."""
    model.eval()
    idx = model.encode(batch)
    xyz = model.decode(idx, batch.residue_idx, batch.chain_idx, batch.chain_break, batch.batch)
    out: dict[str, list[float]] = {"bb_rmsd": [], "ca_rmsd": [], "tm": [], "lddt": [], "codes": []}
    for g, chain in enumerate(chains):
        sel = batch.batch == g
        pred = xyz[sel].double().numpy()
        ref = chain.coords.astype(np.float64)
        out["bb_rmsd"].append(backbone_rmsd(pred, ref, chain.atom_mask))
        out["ca_rmsd"].append(ca_rmsd(pred, ref, chain.atom_mask))
        out["tm"].append(tm_score(pred[:, 1], ref[:, 1]))
        out["lddt"].append(lddt_ca(pred[:, 1], ref[:, 1]))
    out["codes"] = [len(torch.unique(idx[idx >= 0]))]
    model.train()
    return {k: np.asarray(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npz", type=Path, default=DEFAULT_NPZ)
    ap.add_argument("--n-chains", type=int, default=8)
    ap.add_argument("--min-len", type=int, default=60)
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--quantizer", default="provq", help="quantizer kind (provq, vq, ema, aminoaseed)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--min-lr-frac", type=float, default=0.05, help="cosine decay to this fraction of --lr")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--target", type=float, default=1.0)
    ap.add_argument("--time-limit", type=float, default=40 * 60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--continuous",
        action="store_true",
        help="diagnostic: keep progress at 0 (ProVQ alpha = 0, the decoder sees continuous latents)",
    )
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override a model config field as `protok train --set` does, e.g. decoder.n_refine=4",
    )
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "overfit_small.txt"))
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        lines.append(msg)

    if not args.npz.is_file():
        print(f"ProMod3 chains not found at {args.npz}", file=sys.stderr)
        return 2
    chains = load_chains(args.npz, args.n_chains, args.min_len, args.max_len)
    batch = Batch.from_data_list([build_graph(c, k=16) for c in chains])
    base = ModelConfig.preset("small").to_dict()
    base["quantizer"]["kind"] = args.quantizer
    cfg = ModelConfig.from_dict(apply_overrides(base, args.overrides))
    model = ProtokModel(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.0)

    def lr_factor(s: int) -> float:
        if s < args.warmup:
            return (s + 1) / args.warmup
        frac = min(1.0, (s - args.warmup) / max(1, args.steps - args.warmup))
        return args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + np.cos(np.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)

    log(f"# overfit_small: {' '.join(sys.argv)}")
    log(
        f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, threads={args.threads}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    log(
        f"# model preset 'small' ({cfg.name}), quantizer={args.quantizer}, K={cfg.quantizer.codebook_size}, "
        f"D={cfg.quantizer.dim}, {n_params / 1e6:.2f} M parameters; AdamW lr={args.lr} ({args.warmup} warm-up "
        f"steps, cosine to {args.min_lr_frac:g}x), clip 1.0"
    )
    names = ", ".join(f"{c.source.split(':')[1]}({len(c)})" for c in chains)
    log(f"# chains: {names}; {batch.num_nodes} residues in one batch")
    log(
        "# step  wall_s  train_loss  train_ca_rmsd  alpha | round trip (encode->ids->decode): "
        "bb_rmsd mean/max  ca_rmsd mean  TM mean  lDDT mean  codes_used | train loss terms"
    )

    t0 = time.perf_counter()
    reached = False
    step = 0
    ev = None
    for step in range(1, args.steps + 1):
        progress = 0.0 if args.continuous else min(1.0, step / args.steps)
        out = model(batch, progress=progress)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        wall = time.perf_counter() - t0
        if step % args.eval_every == 0 or step == args.steps or wall > args.time_limit:
            ev = evaluate(model, batch, chains)
            alpha = out.stats.get("alpha", 1.0)
            log(
                f"{step:6d}  {wall:6.0f}  {float(out.loss.detach()):10.3f}  {out.stats['ca_rmsd']:13.2f}  {alpha:5.2f} | "
                f"{ev['bb_rmsd'].mean():6.2f} / {ev['bb_rmsd'].max():5.2f}  {ev['ca_rmsd'].mean():6.2f}  "
                f"{ev['tm'].mean():7.3f}  {ev['lddt'].mean():8.3f}  {int(ev['codes'][0])} | "
                + " ".join(f"{k}={float(v.detach()):.3g}" for k, v in out.losses.items())
            )
            discrete = alpha >= 1.0 and not args.continuous
            if discrete and ev["bb_rmsd"].mean() < args.target and ev["bb_rmsd"].max() < args.target:
                reached = True
                break
            if wall > args.time_limit:
                log(f"# time limit {args.time_limit:.0f} s reached")
                break
    wall = time.perf_counter() - t0
    assert ev is not None
    log(f"# per chain (round trip): bb_rmsd {np.round(ev['bb_rmsd'], 2).tolist()}")
    log(f"#                         TM      {np.round(ev['tm'], 3).tolist()}")
    log(
        f"# RESULT: {'REACHED' if reached else 'NOT reached'} backbone RMSD < {args.target} A on all "
        f"{len(chains)} chains; steps={step}, wall={wall:.0f} s ({wall / step:.2f} s/step), "
        f"final mean bb_rmsd={ev['bb_rmsd'].mean():.3f} A, max={ev['bb_rmsd'].max():.3f} A, "
        f"mean TM={ev['tm'].mean():.3f}, load average at end {os.getloadavg()[0]:.1f}"
    )
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0 if reached else 1


if __name__ == "__main__":
    raise SystemExit(main())
