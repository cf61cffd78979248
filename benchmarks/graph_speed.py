"""Speed of protok.graph.build_graph relative to a plain biotite PDB read, on real chains.

Writes N real chains from ../shared/data/promod3/chains.npz as PDB files into a temporary folder, then
times, per chain and in the same process (interleaved, best of R repeats):

  (a) ``biotite.structure.io.pdb.PDBFile.read(path).get_structure(model=1)``  -- the reference
  (b) ``protok.graph.build_graph(chain, k)``                                   -- graph only
  (c) ``protok.structures.read_structure(path)`` and (d) (c) + build_graph

and prints totals and ratios to (a). Target: parse + graph <= 1.5 x biotite read.

    python benchmarks/graph_speed.py --n 200 --threads 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import biotite_read, sample_chains, write_chains

from protok.graph import build_graph, knn_graph

DEFAULT_NPZ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "promod3" / "chains.npz"


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npz", type=Path, default=DEFAULT_NPZ)
    ap.add_argument("--n", type=int, default=200, help="number of real chains")
    ap.add_argument("--min-len", type=int, default=100)
    ap.add_argument("--max-len", type=int, default=500)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (per-worker setting)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--big", type=int, default=10_000, help="also time one complex of this many residues (0: skip)"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    try:
        from protok.structures import read_structure  # type: ignore[attr-defined]
    except ImportError:
        read_structure = None

    sample = sample_chains(args.npz, args.n, seed=args.seed, min_len=args.min_len, max_len=args.max_len)
    chains = list(sample.values())
    residues = sum(len(c) for c in chains)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_chains(sample, Path(tmp), "pdb")
        for c, p in zip(chains[:10], paths[:10]):  # warm-up
            biotite_read(p)
            build_graph(c, k=args.k)
        names = ["biotite read", "build_graph"] + (
            ["protok parse", "parse + graph"] if read_structure else []
        )
        best = {name: np.full(len(chains), np.inf) for name in names}
        for _ in range(args.repeats):
            for i, (c, p) in enumerate(zip(chains, paths)):
                best["biotite read"][i] = min(
                    best["biotite read"][i],
                    timed(biotite_read, p),
                )
                best["build_graph"][i] = min(best["build_graph"][i], timed(build_graph, c, args.k))
                if read_structure is not None:
                    best["protok parse"][i] = min(best["protok parse"][i], timed(read_structure, p))
                    best["parse + graph"][i] = min(
                        best["parse + graph"][i], timed(lambda q: build_graph(read_structure(q), k=args.k), p)
                    )

    ref = best["biotite read"].sum()
    print(
        f"{len(chains)} real chains, {residues} residues ({args.min_len}-{args.max_len}), k={args.k}, "
        f"torch threads={args.threads}, best of {args.repeats}"
    )
    print(f"{'step':<16}{'total s':>10}{'ms/chain':>10}{'us/res':>9}{'ratio':>8}")
    for name in names:
        tot = best[name].sum()
        print(
            f"{name:<16}{tot:>10.3f}{1e3 * tot / len(chains):>10.3f}{1e6 * tot / residues:>9.2f}{tot / ref:>8.2f}"
        )
    print(f"(biotite read + build_graph) / biotite read = {(ref + best['build_graph'].sum()) / ref:.2f}")
    near300 = [i for i, c in enumerate(chains) if 280 <= len(c) <= 320]
    if near300:
        print(
            f"build_graph, chains of 280-320 residues: median {1e3 * np.median(best['build_graph'][near300]):.2f} ms "
            f"(biotite read {1e3 * np.median(best['biotite read'][near300]):.2f} ms; n={len(near300)})"
        )

    if args.big:
        big, total = [], 0
        # chains of >= 50 residues: args.big // 50 of them always reach args.big residues
        for c in sample_chains(
            args.npz, max(1, args.big // 50), seed=args.seed + 1, min_len=50, max_len=1000
        ).values():
            big.append(c)
            total += len(c)
            if total >= args.big:
                break
        t_graph = timed(build_graph, big, args.k)
        pos = torch.from_numpy(np.concatenate([c.ca for c in big]))
        t_knn = timed(knn_graph, pos, args.k)
        print(
            f"one complex of {total} residues in {len(big)} chains: build_graph {t_graph:.2f} s, knn_graph "
            f"{t_knn:.2f} s (peak distance block 512 x {total} = {512 * total * 4 / 1e6:.0f} MB, "
            f"an L x L matrix would be {total * total * 4 / 1e6:.0f} MB)"
        )


if __name__ == "__main__":
    main()
