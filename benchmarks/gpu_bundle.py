"""Write the self-contained folder that a GPU training run needs (``gpu_bundle/``, git-ignored).

    python benchmarks/gpu_bundle.py                                   # gpu_bundle/ for configs/gpu.toml
    python benchmarks/gpu_bundle.py -o /tmp/b --config configs/tiny.toml --no-wheels --max-train-chains 6

A GPU machine that has CUDA, PyTorch, e3nn, torch_geometric and the scientific stack but no network and no
``../shared/data`` trains from this folder alone (``benchmarks/gpu_train.sh``). It holds:

* ``chains.npz`` - chains of ``../shared/data/promod3/chains.npz`` with the same arrays, written with numpy
  (:meth:`protok.structures.promod3.Promod3Chains.write_subset`), and the train/validation split of the
  *whole* archive under the config's ``[data]`` settings (``min_length``, ``val_fraction``, ``split_seed``,
  ``scop``, ``max_chains``), stored in the archive. A split computed anew on a subset would differ and would
  train on chains the CPU runs hold out; with the stored split, training uses it
  (:func:`protok.training.data.load_training_data`), so validation numbers compare with CPU runs of the same
  settings. Every validation chain goes in first (``--max-val-chains`` keeps only the first ones by id, the
  ones the trainer evaluates), then training chains in a seeded random order until the data budget is full.
* ``scop2.tsv`` - the SCOP2 labels (the config names the file; the stored split does not need it).
* ``wheels/`` - Python 3.12 manylinux x86-64 wheels of what protok's training imports and the GPU machine
  lacks: biotite (protok.structures imports it). Its wheel is slimmed to 3.6 MB from 57 MB: the chemical
  component dictionary (``biotite/structure/info/components.bcif``, 38 MB, read when protok parses a
  structure file, never when it trains from ``chains.npz``: parsing files there fails with biotite's "CCD
  not found") is left out and the debug symbols of its extension modules are stripped; the file name
  carries the build tag ``0slim``.
* ``bundle.json`` - the contents, the split settings and the sizes.

Size. The folder travels to the GPU machine with the repository's working tree, and the two together must
stay under 64 MiB. The data budget is the smaller of 40 MB and what is left after the repository's files
(tracked and untracked-not-ignored), the wheels and a 4 MiB margin; ``--data-mb`` sets it.
"""

from __future__ import annotations

import argparse
import base64
import csv
import dataclasses
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "promod3"
MB = 1_000_000
MIB = 1 << 20
#: Files left out of a wheel when it is slimmed, by distribution name.
SLIM_DROP = {"biotite": ("biotite/structure/info/components.bcif",)}
#: What ``pip download`` is asked for: the GPU machine's Python and platform.
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)


# ------------------------------------------------------------------------------------------------- chains
def split_of_whole_archive(config: Path, source: Path, scop: Path | None) -> tuple[Any, Any, Any]:
    """``(config, training data, ProMod3 archive)``: the config's split of the whole ``source`` archive."""
    from protok.structures.promod3 import Promod3Chains
    from protok.training import load_config, load_training_data

    cfg = load_config(config)
    data_cfg = dataclasses.replace(
        cfg.data,
        promod3=str(source),
        scop=str(scop) if cfg.data.scop and scop is not None else None,
        structures=[],
    )
    cfg = dataclasses.replace(cfg, data=data_cfg)
    return cfg, load_training_data(data_cfg), Promod3Chains(source)


def choose_chains(
    data: Any, archive: Any, budget_bytes: float, *, max_val: int, max_train: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Archive indices of the chains to keep (sorted), their validation flags and split groups.

    Validation chains first (all, or the first ``max_val`` by id), then training chains in a seeded random
    order while the estimated compressed size (the source archive's bytes per residue) fits the budget.
    """
    store = data.store
    index = np.array([archive.index(cid) for cid in store.ids], dtype=np.int64)
    val = data.val[np.argsort([store.ids[i] for i in data.val], kind="stable")]
    if max_val > 0:
        val = val[:max_val]
    train = np.random.default_rng(seed).permutation(data.train)
    if max_train > 0:
        train = train[:max_train]
    per_residue = archive.path.stat().st_size / float(archive.lengths.sum())
    used = float(store.lengths[val].sum()) * per_residue
    if used > budget_bytes:
        raise SystemExit(
            f"the {len(val)} validation chains alone need ~{used / MB:.1f} MB, over the {budget_bytes / MB:.1f} MB "
            "data budget: raise --data-mb or keep fewer with --max-val-chains"
        )
    room = int((budget_bytes - used) // per_residue)
    cum = np.cumsum(store.lengths[train])
    train = train[: int(np.searchsorted(cum, room, side="right"))]
    keep = np.concatenate([val, train])
    is_val = np.zeros(len(keep), dtype=bool)
    is_val[: len(val)] = True
    order = np.argsort(index[keep], kind="stable")
    return index[keep][order], is_val[order], data.split.group[keep][order]


def write_chains(
    cfg: Any, data: Any, archive: Any, out: Path, budget_bytes: float, args: argparse.Namespace
) -> dict[str, Any]:
    """Write ``out/chains.npz`` within ``budget_bytes`` (shrinking the training share if the estimate was
    low); return its part of the manifest."""
    from protok.structures.promod3 import StoredSplit

    d = cfg.data
    params = {
        "val_fraction": d.val_fraction,
        "split_seed": d.split_seed,
        "min_length": d.min_length,
        "scop": bool(d.scop),
        "max_chains": d.max_chains,
        "source": f"{archive.path.name} ({len(archive)} chains, {archive.path.stat().st_size} bytes)",
        "validation_chains_in_source": len(data.val),
    }
    budget = budget_bytes
    path = out / "chains.npz"
    for _ in range(5):
        keep, is_val, group = choose_chains(
            data,
            archive,
            budget,
            max_val=args.max_val_chains,
            max_train=args.max_train_chains,
            seed=args.seed,
        )
        split = StoredSplit(val=is_val, group=group, params=params)
        archive.write_subset(path, keep, split=split)
        size = path.stat().st_size
        if size <= budget_bytes:
            break
        budget *= 0.98 * budget_bytes / size
    else:
        raise SystemExit(f"{path}: {size / MB:.1f} MB still over the {budget_bytes / MB:.1f} MB budget")
    lengths = archive.lengths[keep]
    return {
        "file": "chains.npz",
        "bytes": size,
        "chains": len(keep),
        "residues": int(lengths.sum()),
        "validation_chains": int(is_val.sum()),
        "training_chains": int((~is_val).sum()),
        "training_chains_in_source": len(data.train),
        "training_residues": int(lengths[~is_val].sum()),
        "split": params,
    }


# ------------------------------------------------------------------------------------------------- wheels
def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def slim_wheel(src: Path, dest_dir: Path, drop: tuple[str, ...] = (), strip: bool = True) -> Path:
    """Copy of the wheel ``src`` without the files ``drop`` and with stripped extension modules.

    The ``RECORD`` is rewritten (hashes and sizes of what is left) and the file name gets the build tag
    ``0slim`` (``name-version-0slim-python-abi-platform.whl``), so pip installs it like the original.
    """
    parts = src.name[: -len(".whl")].split("-")
    if len(parts) != 5:
        raise ValueError(f"{src.name}: expected name-version-python-abi-platform.whl")
    strip_exe = shutil.which("strip") if strip else None
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(src) as z:
        for info in z.infolist():
            if info.is_dir() or info.filename in drop:
                continue
            files[info.filename] = z.read(info)
    if strip_exe:
        with tempfile.TemporaryDirectory() as tmp:
            for name in [n for n in files if n.endswith(".so")]:
                so = Path(tmp) / "ext.so"
                so.write_bytes(files[name])
                res = subprocess.run([strip_exe, "--strip-unneeded", str(so)], capture_output=True)
                if res.returncode == 0:  # else (not an ELF file of this machine's format): kept as it was
                    files[name] = so.read_bytes()
    dist_info = next(n.split("/")[0] for n in files if n.split("/")[0].endswith(".dist-info"))
    wheel_meta = f"{dist_info}/WHEEL"
    text = files[wheel_meta].decode()
    if "\nBuild:" not in text:
        files[wheel_meta] = (text.rstrip("\n") + "\nBuild: 0slim\n").encode()
    record = f"{dist_info}/RECORD"
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name, blob in files.items():
        if name != record:
            writer.writerow([name, _record_hash(blob), len(blob)])
    writer.writerow([record, "", ""])
    files[record] = rows.getvalue().encode()
    out = dest_dir / ("-".join([parts[0], parts[1], "0slim", *parts[2:]]) + ".whl")
    dest_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(files, key=lambda n: (n.startswith(dist_info), n == record, n))  # RECORD last
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in ordered:
            z.writestr(name, files[name])
    return out


def fetch_wheels(specs: list[str], dest: Path, python_version: str) -> list[dict[str, Any]]:
    """``pip download`` each ``NAME==VERSION`` for the GPU machine, slim it, put it in ``dest``."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--python-version", python_version, "--implementation", "cp", "-d", tmp]
        for plat in PLATFORMS:
            cmd += ["--platform", plat]
        subprocess.run([*cmd, *specs], check=True)
        for whl in sorted(Path(tmp).glob("*.whl")):
            dist = whl.name.split("-")[0].lower()
            slim = slim_wheel(whl, dest, SLIM_DROP.get(dist, ()))
            out.append(
                {
                    "file": slim.name,
                    "module": dist.replace("-", "_"),
                    "bytes": slim.stat().st_size,
                    "original_bytes": whl.stat().st_size,
                    "left_out": list(SLIM_DROP.get(dist, ())),
                }
            )
    return out


# -------------------------------------------------------------------------------------------------- sizes
def working_tree_bytes(repo: Path, exclude: Path) -> int | None:
    """Bytes of the files that travel with the repository (tracked and untracked-not-ignored), or None."""
    try:
        names = subprocess.run(
            ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            check=True,
            capture_output=True,
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        return None
    total = 0
    for raw in names:
        if not raw:
            continue
        p = repo / os.fsdecode(raw)
        if p.is_file() and not p.is_symlink() and exclude not in p.parents:
            total += p.stat().st_size
    return total


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "-o", "--out", type=Path, default=REPO / "gpu_bundle", help="the folder (default: gpu_bundle/)"
    )
    ap.add_argument(
        "--config", type=Path, default=REPO / "configs" / "gpu.toml", help="whose [data] split settings"
    )
    ap.add_argument("--source", type=Path, default=SHARED / "chains.npz", help="the whole ProMod3 archive")
    ap.add_argument("--scop", type=Path, default=SHARED / "scop2.tsv", help="SCOP2 labels of the split")
    ap.add_argument("--data-mb", type=float, default=None, help="data budget in MB (default: see above)")
    ap.add_argument("--max-data-mb", type=float, default=40.0, help="cap of the automatic data budget")
    ap.add_argument("--tree-limit-mib", type=float, default=64.0, help="what may travel to the GPU machine")
    ap.add_argument("--margin-mib", type=float, default=4.0, help="room kept for the repository to grow")
    ap.add_argument(
        "--max-val-chains", type=int, default=0, help="keep the first N validation chains (0: all)"
    )
    ap.add_argument(
        "--max-train-chains", type=int, default=0, help="at most N training chains (0: fill budget)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the training-chain draw")
    ap.add_argument("--wheel", action="append", default=None, help="NAME==VERSION (default: biotite as here)")
    ap.add_argument("--no-wheels", action="store_true", help="no wheels (a machine that has biotite; tests)")
    ap.add_argument("--python-version", default="3.12", help="Python of the GPU machine")
    args = ap.parse_args(argv)

    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest: dict[str, Any] = {"config": str(args.config), "wheels": []}
    if not args.no_wheels:
        specs = args.wheel or [f"biotite=={importlib.metadata.version('biotite')}"]
        manifest["wheels"] = fetch_wheels(specs, out / "wheels", args.python_version)
    wheel_bytes = folder_bytes(out / "wheels") if (out / "wheels").is_dir() else 0

    tree = working_tree_bytes(REPO, out)
    if args.data_mb is not None:
        budget = args.data_mb * MB
    else:
        budget = args.max_data_mb * MB
        if tree is not None:
            room = (args.tree_limit_mib - args.margin_mib) * MIB - tree - wheel_bytes - 400_000  # scop2.tsv
            budget = min(budget, room)
    cfg, data, archive = split_of_whole_archive(args.config, args.source, args.scop)
    manifest["chains"] = write_chains(cfg, data, archive, out, budget, args)
    if cfg.data.scop:
        shutil.copyfile(args.scop, out / "scop2.tsv")
        manifest["scop"] = {"file": "scop2.tsv", "bytes": (out / "scop2.tsv").stat().st_size}
    manifest["data_budget_bytes"] = int(budget)
    manifest["working_tree_bytes"] = tree
    (out / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = folder_bytes(out)
    manifest["bundle_bytes"] = total

    c = manifest["chains"]
    print(
        f"{out}: {total / MB:.1f} MB ({total / MIB:.1f} MiB)\n"
        f"  chains.npz  {c['bytes'] / MB:6.1f} MB  {c['chains']} chains, {c['residues']} residues: all "
        f"{c['validation_chains']} validation chains of the split, {c['training_chains']} of "
        f"{c['training_chains_in_source']} training chains"
    )
    if "scop" in manifest:
        print(f"  scop2.tsv   {manifest['scop']['bytes'] / MB:6.1f} MB")
    for w in manifest["wheels"]:
        print(f"  {w['file']}  {w['bytes'] / MB:.1f} MB (from {w['original_bytes'] / MB:.1f} MB)")
    if tree is not None:
        travel = tree + total
        verdict = "fits" if travel <= args.tree_limit_mib * MIB else "DOES NOT FIT"
        print(
            f"  with the repository's working tree ({tree / MIB:.1f} MiB): {travel / MIB:.1f} MiB, "
            f"{verdict} the {args.tree_limit_mib:.0f} MiB limit"
        )
    return manifest


if __name__ == "__main__":
    main()
