"""The benchmark's real data sources: ProMod3 chains with DSSP/SASA/depth (through protok's one archive
loader, :class:`~protok.structures.Promod3Chains`), SCOP2 and binding labels, and full-atom structures with
crystallographic B-factors.

Everything is turned into :class:`~protok.bench.item.BenchItem` (a :class:`~protok.structures.ProteinChain`
plus its per-residue annotations) once, at the boundary.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from protok.bench.item import BenchItem
from protok.errors import BenchDataError
from protok.structures.chain import ProteinChain
from protok.structures.promod3 import Promod3Chains

__all__ = [
    "SHIPPED_FLEX",
    "THESEUS_EXAMPLES",
    "default_data_dir",
    "default_flex_dir",
    "flex_files",
    "promod3_item",
    "read_bfactor_chains",
    "read_binding",
    "read_scop",
]

log = logging.getLogger(__name__)

#: Where the Debian package ``theseus-examples`` installs its full-atom PDB files (427 files).
THESEUS_EXAMPLES = Path("/usr/share/doc/theseus/examples")
#: The 39 full-atom files shipped with protok (a sample of ``theseus-examples``; see its SOURCES.md).
SHIPPED_FLEX = Path(__file__).resolve().parents[1] / "data" / "flex"


def default_flex_dir() -> Path:
    """Full-atom files for the flexibility task: ``theseus-examples`` where it is installed, else the files
    shipped with protok (the same chains for the ``quick`` suite; fewer than ``full`` asks for)."""
    return THESEUS_EXAMPLES if THESEUS_EXAMPLES.is_dir() else SHIPPED_FLEX


def flex_files(flex_dir: Path | None, n: int) -> list[Path]:
    """The ``n`` full-atom files of ``flex_dir`` the flexibility task uses: all when there are at most ``n``,
    else a seeded sample (``numpy.random.default_rng(0)`` over the sorted paths)."""
    if n <= 0 or flex_dir is None or not Path(flex_dir).is_dir():
        return []
    files = sorted(
        p for p in Path(flex_dir).rglob("*") if p.name.endswith((".pdb", ".pdb.gz", ".ent", ".ent.gz"))
    )
    if len(files) > n:
        rng = np.random.default_rng(0)
        files = [files[i] for i in sorted(rng.choice(len(files), n, replace=False))]
    return files


def default_data_dir() -> Path:
    """``../shared/data`` relative to the project root (the documented location of the real data)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return Path("../shared/data")


def promod3_item(db: Promod3Chains, chain_id: str) -> BenchItem:
    """The ProMod3 chain ``chain_id`` with its DSSP, SASA and depth annotations.

    Raises
    ------
    BenchDataError
        If the archive has no such chain.
    """
    if chain_id not in db:
        raise BenchDataError(str(db.path), f"no chain {chain_id!r}")
    i = db.index(chain_id)
    annotations = {
        "dssp": np.array(list(db.dssp(i)), dtype="<U1"),
        "sasa": db.sasa(i).astype(np.float32),
        "depth": db.depth(i).astype(np.float32),
    }
    return BenchItem(chain_id, db.chain(i), annotations)


def read_scop(path: str | Path) -> dict[str, tuple[int, int]]:
    """Chains with exactly one SCOP2 fold and one superfamily.

    Parameters
    ----------
    path : Path
        ``promod3/scop2.tsv``.

    Returns
    -------
    dict
        chain id -> (fold, superfamily). Chains whose domains span several superfamilies are left
        out (their count is logged), since a per-protein label would be ambiguous.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise BenchDataError(str(path), "SCOP2 label table not found")
    df = pd.read_csv(path, sep="\t", dtype={"chain": str})
    need = {"chain", "fold", "superfamily"}
    if not need <= set(df.columns):
        raise BenchDataError(str(path), f"expected columns {sorted(need)}, got {list(df.columns)}")
    out: dict[str, tuple[int, int]] = {}
    ambiguous = 0
    for cid, g in df.groupby("chain"):
        pairs = set(zip(g["fold"].astype(int), g["superfamily"].astype(int)))
        if len(pairs) != 1:
            ambiguous += 1
            continue
        out[str(cid)] = next(iter(pairs))
    log.info(
        "%s: %d chains with one fold/superfamily, %d multi-superfamily chains left out",
        path,
        len(out),
        ambiguous,
    )
    return out


def read_binding(path: str | Path, ligands: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """Per-residue ligand-binding labels.

    Parameters
    ----------
    path : Path
        ``promod3/binding.tsv``.
    ligands : sequence of str
        Ligand groups in output order.

    Returns
    -------
    dict
        chain id -> {ligand: ndarray, shape=(L,), dtype=int8 (0/1)}.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise BenchDataError(str(path), "binding label table not found")
    df = pd.read_csv(path, sep="\t", dtype={"chain": str, "labels": str})
    out: dict[str, dict[str, np.ndarray]] = {}
    for row in df.itertuples(index=False):
        if row.ligand not in ligands:
            continue
        lab = np.frombuffer(row.labels.encode(), dtype=np.uint8) - ord("0")
        if lab.size and lab.max() > 1:
            raise BenchDataError(str(path), f"{row.chain}/{row.ligand}: labels must be a 0/1 string")
        out.setdefault(row.chain, {})[row.ligand] = lab.astype(np.int8)
    return out


def _one_letter(res_name: str) -> str:
    from biotite.sequence import ProteinSequence

    try:
        return ProteinSequence.convert_letter_3to1(res_name)
    except KeyError:
        return "X"


def _read_pdb_gz(path: Path):
    import biotite.structure.io.pdb as pdb

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        text = fh.read()
    f = pdb.PDBFile.read(io.StringIO(text))
    return f.get_structure(model=1, extra_fields=["b_factor"], altloc="occupancy")


def read_bfactor_chains(
    paths: Iterable[str | Path], *, min_len: int = 30, max_len: int = 600
) -> list[BenchItem]:
    """Full-atom chains with CA B-factors, for the flexibility task.

    Files are read with biotite (``.pdb`` or ``.pdb.gz``), first model, alternate locations resolved by
    occupancy. Chains with fewer than ``min_len`` complete residues or more than ``max_len`` are left out;
    files that fail to parse are logged and skipped. Chains whose B-factors are all equal (e.g. NMR models
    or refined with one value) carry no signal and are left out.

    Returns
    -------
    list of BenchItem
        ``annotations["bfactor"]`` of shape (L,), float32.
    """
    import biotite.structure as struc

    items: list[BenchItem] = []
    for p in paths:
        p = Path(p)
        try:
            atoms = _read_pdb_gz(p)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            log.warning("%s: skipped (%s)", p, exc)
            continue
        atoms = atoms[struc.filter_amino_acids(atoms) & ~atoms.hetero]
        for cid in np.unique(atoms.chain_id):
            ch = atoms[atoms.chain_id == cid]
            starts = struc.get_residue_starts(ch)
            n = len(starts)
            if n < min_len or n > max_len:
                continue
            coords = np.full((n, 4, 3), np.nan, np.float32)
            bf = np.full(n, np.nan, np.float32)
            res_idx = struc.get_residue_positions(ch, np.arange(ch.array_length()))
            for k, name in enumerate(("N", "CA", "C", "O")):
                sel = ch.atom_name == name
                coords[res_idx[sel], k] = ch.coord[sel]
                if name == "CA":
                    bf[res_idx[sel]] = ch.b_factor[sel]
            mask = np.asarray(~np.isnan(coords).any(-1))
            keep = np.asarray(mask[:, :3].all(1) & ~np.isnan(bf))
            if keep.sum() < min_len or np.nanstd(bf[keep]) == 0:
                continue
            seq = "".join(_one_letter(r) for r in ch.res_name[starts])
            chain = ProteinChain(
                coords=coords[keep],
                atom_mask=mask[keep],
                sequence="".join(np.array(list(seq))[keep]),
                auth_chain_id=str(cid),
                label_chain_id=str(cid),
                res_ids=ch.res_id[starts][keep],
                b_factors=bf[keep],
                source=str(p),
            )
            items.append(BenchItem(f"{p.name.split('.')[0]}:{cid}", chain, {"bfactor": bf[keep]}))
    return items
