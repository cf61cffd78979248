"""Speed of protok.graph.build_graph relative to a plain biotite PDB read, on real chains.

Writes N real chains from ../shared/data/promod3/chains.npz as PDB files into a temporary folder, then
times, per chain and in the same process (interleaved, best of R repeats):

  (a) ``biotite.structure.io.pdb.PDBFile.read(path).get_structure(model=1)``  -- the reference
  (b) ``protok.graph.build_graph(chain, k)``                                   -- graph only
  (c) ``protok.structures.read_structure(path)`` and (d) (c) + build_graph     -- if the parser is present

and prints totals and ratios to (a). Target from issue 2: parse + graph <= 1.5 x biotite read.

    python benchmarks/graph_speed.py --n 200 --threads 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import biotite.structure as struc
import biotite.structure.io.pdb as pdb
import numpy as np
import torch

from protok.graph import build_graph, knn_graph
from protok.structures import ProteinChain

DEFAULT_NPZ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "promod3" / "chains.npz"


def load_chains(npz: Path, n: int, lo: int, hi: int, seed: int) -> list[ProteinChain]:
    with np.load(npz) as z:  # NpzFile re-reads an array on every access: read each one once
        d = {key: z[key] for key in ("length", "id", "ca_milliA", "nco_minus_ca_milliA", "seq")}
    length = d["length"].astype(np.int64)
    start = np.cumsum(length) - length
    ids = [s.decode() for s in d["id"]]
    pick = np.random.default_rng(seed).permutation(np.flatnonzero((length >= lo) & (length <= hi)))[:n]
    out = []
    for i in sorted(pick):
        s, m = int(start[i]), int(length[i])
        ca = d["ca_milliA"][s : s + m].astype(np.float64)
        nco = ca[:, None] + d["nco_minus_ca_milliA"][s : s + m]
        xyz = np.stack([nco[:, 0], ca, nco[:, 1], nco[:, 2]], axis=1) / 1000.0
        out.append(
            ProteinChain(
                coords=xyz,
                atom_mask=np.ones((m, 4), bool),
                sequence=d["seq"][s : s + m].tobytes().decode(),
                auth_chain_id=ids[i].split("_")[1][:1] or "A",
                source=ids[i],
            )
        )
    return out


_THREE = dict(
    zip(
        "ACDEFGHIKLMNPQRSTVWY",
        "ALA CYS ASP GLU PHE GLY HIS ILE LYS LEU MET ASN PRO GLN ARG SER THR VAL TRP TYR".split(),
    )
)


def write_pdb(chain: ProteinChain, path: Path) -> None:
    n = len(chain)
    atoms = struc.AtomArray(4 * n)
    atoms.coord = chain.coords.reshape(-1, 3)
    atoms.atom_name = np.tile(["N", "CA", "C", "O"], n)
    atoms.element = np.tile(["N", "C", "C", "O"], n)
    atoms.res_id = np.repeat(np.arange(1, n + 1), 4)
    atoms.res_name = np.repeat([_THREE.get(a, "UNK") for a in chain.sequence], 4)
    atoms.chain_id = np.full(4 * n, chain.auth_chain_id)
    atoms.hetero = np.zeros(4 * n, bool)
    f = pdb.PDBFile()
    f.set_structure(atoms)
    f.write(str(path))


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

    chains = load_chains(args.npz, args.n, args.min_len, args.max_len, args.seed)
    residues = sum(len(c) for c in chains)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"{i:04d}.pdb" for i in range(len(chains))]
        for c, p in zip(chains, paths):
            write_pdb(c, p)
        for c, p in zip(chains[:10], paths[:10]):  # warm-up
            pdb.PDBFile.read(str(p)).get_structure(model=1)
            build_graph(c, k=args.k)
        names = ["biotite read", "build_graph"] + (
            ["protok parse", "parse + graph"] if read_structure else []
        )
        best = {name: np.full(len(chains), np.inf) for name in names}
        for _ in range(args.repeats):
            for i, (c, p) in enumerate(zip(chains, paths)):
                best["biotite read"][i] = min(
                    best["biotite read"][i],
                    timed(lambda q: pdb.PDBFile.read(str(q)).get_structure(model=1), p),
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
        for c in load_chains(args.npz, max(1, args.big // 50), 50, 1000, args.seed + 1):
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
