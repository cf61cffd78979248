"""Parse speed: biotite's plain read vs protok parse vs protok parse + residue frame graph.

Writes N real chains from ``../shared/data/promod3/chains.npz`` as PDB and mmCIF files to a temporary
folder, then times, in one run and interleaved round by round (so machine load hits all three alike):

(a) biotite plain read: ``PDBFile.read(path).get_structure(model=1)`` /
    ``pdbx.get_structure(CIFFile.read(path), model=1)``;
(a') PDB only: protok's column reader, ``index_pdb(path.read_bytes()).get_structure(1)``
    (:mod:`protok.structures.pdbcolumns`, what (b) runs on a plainly well-formed PDB file);
(b) ``protok.structures.read_structure(path)``;
(c) (b) followed by ``protok.graph.build_graph(complex, k=16)`` (skipped with a message if protok.graph
    has no ``build_graph`` yet).

Reports the best of ``--repeats`` rounds (``--graph-repeats`` for (c)) per method and the ratios (a')/(a), (b)/(a),
(c)/(a); the target is (c)/(a) <= 1.5. Results go to ``benchmarks/results/parse_speed.json``.

Usage::

    python benchmarks/parse_speed.py --n 200 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import biotite
from _common import biotite_read, sample_chains, time_each, write_chains

from protok.structures import read_structure
from protok.structures.pdbcolumns import index_pdb

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "promod3" / "chains.npz"


def _columns_read(path: Path) -> object:
    """The column reader alone on ``path``; an error if it would hand the file to biotite."""
    columns = index_pdb(path.read_bytes())
    atoms = None if columns is None else columns.get_structure(1)
    if atoms is None:
        raise RuntimeError(f"{path}: the column reader falls back to biotite on this file")
    return atoms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=200, help="number of chains")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--graph-repeats", type=int, default=1, help="rounds for (c); the graph builder is slower"
    )
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads for (c); 1 = one worker per core, as batch tokenization runs "
        "(on a busy 2-core machine the default thread pool is ~10x slower for small graphs)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "parse_speed.json")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.torch_threads)
    # spread over the whole archive, deterministic
    chains = sample_chains(args.data, args.n, min_len=None, max_len=None, spread=True)
    try:
        from protok.graph import build_graph
    except ImportError as exc:
        build_graph = None
        print(f"(c) skipped: protok.graph.build_graph not available ({exc})")

    results: dict[str, Any] = {
        "n_chains": int(args.n),
        "residues": sum(len(c) for c in chains.values()),
        "repeats": args.repeats,
        "graph_repeats": args.graph_repeats,
        "k": args.k,
        "torch_threads": args.torch_threads,
        "python": platform.python_version(),
        "biotite": biotite.__version__,
        "formats": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("pdb", "cif"):
            paths = write_chains(chains, Path(tmp), fmt)
            methods: dict[str, Callable[[Path], Any]] = {
                "biotite_read": biotite_read,
                "protok_parse": read_structure,
            }
            if fmt == "pdb":
                methods["pdbcolumns_read"] = _columns_read
            if build_graph is not None:
                methods["protok_parse_graph"] = lambda p: build_graph(read_structure(p), k=args.k)
            for fn in methods.values():  # warm-up: imports, CCD load, first-call caches
                fn(paths[0])
            best = {name: float("inf") for name in methods}
            for r in range(max(args.repeats, args.graph_repeats)):
                for name, fn in methods.items():
                    rounds = args.graph_repeats if name == "protok_parse_graph" else args.repeats
                    if r < rounds:
                        best[name] = min(best[name], time_each(fn, paths))
            row: dict[str, Any] = {f"{name}_s": round(t, 4) for name, t in best.items()}
            row["ms_per_file"] = {name: round(1000 * t / len(paths), 3) for name, t in best.items()}
            row["ratio_parse_vs_biotite"] = round(best["protok_parse"] / best["biotite_read"], 3)
            if "pdbcolumns_read" in best:
                row["ratio_pdbcolumns_vs_biotite"] = round(best["pdbcolumns_read"] / best["biotite_read"], 3)
            if "protok_parse_graph" in best:
                row["ratio_parse_graph_vs_biotite"] = round(
                    best["protok_parse_graph"] / best["biotite_read"], 3
                )
            results["formats"][fmt] = row
            print(f"{fmt}: {len(paths)} files, {results['residues']} residues")
            for name, t in best.items():
                print(f"  {name:20s} {t:8.3f} s  ({1000 * t / len(paths):.2f} ms/file)")
            if "ratio_pdbcolumns_vs_biotite" in row:
                print(f"  pdbcolumns / biotite   {row['ratio_pdbcolumns_vs_biotite']:.3f}")
            print(f"  parse / biotite        {row['ratio_parse_vs_biotite']:.3f}")
            if "ratio_parse_graph_vs_biotite" in row:
                print(f"  parse+graph / biotite  {row['ratio_parse_graph_vs_biotite']:.3f}  (target <= 1.5)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
