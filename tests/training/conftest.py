"""Fixtures of the training tests: a small real ProMod3 archive and the tiny config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny.toml"
N_MINI_CHAINS = 24


@pytest.fixture(scope="session")
def mini_promod3(promod3_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 24 chains of the shared ProMod3 archive, same format, in a temporary ``chains.npz``.

    Real structures, but a 1 MB file: every training run in the tests opens it in milliseconds.
    """
    d = np.load(promod3_npz)
    lengths = d["length"][:N_MINI_CHAINS]
    n_res = int(lengths.sum())
    out = {
        "id": d["id"][:N_MINI_CHAINS],
        "length": lengths,
        "start_resnum": d["start_resnum"][:N_MINI_CHAINS],
    }
    for key in ("seq", "dssp", "ca_milliA", "nco_minus_ca_milliA", "sasa", "depth"):
        if key in d.files:
            out[key] = d[key][:n_res]
    path = tmp_path_factory.mktemp("promod3") / "chains.npz"
    np.savez_compressed(path, **out)
    return path


@pytest.fixture()
def tiny_overrides(mini_promod3: Path, tmp_path: Path) -> list[str]:
    """``--set`` overrides that point configs/tiny.toml at the mini archive and a temporary run folder."""
    return [f'data.promod3="{mini_promod3}"', f'run.out_dir="{tmp_path / "run"}"']
