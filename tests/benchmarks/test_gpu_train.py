"""benchmarks/gpu_bundle.py and benchmarks/gpu_train.sh on a CPU: a tiny bundle (no wheels) and a tiny model.

The whole GPU path runs here on the CPU for a few steps: bundle, warm-up, planned step count, training,
export and learning curve, and the wall-clock guard. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import protok
from protok.structures.promod3 import Promod3Chains
from protok.training import load_config, load_training_data

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "tiny.toml"
OUT_FILES = {
    "learning_curve.png",
    "metrics.csv",
    "metrics.jsonl",
    "model/MODEL_CARD.md",
    "model/config.json",
    "model/model.safetensors",
    "summary.json",
    "val_metrics.csv",
}


@pytest.fixture(scope="module")
def bundle(
    promod3_npz: Path, tmp_path_factory: pytest.TempPathFactory, benchmark_script: Callable[[str], ModuleType]
) -> Path:
    out = tmp_path_factory.mktemp("gpu") / "bundle"
    args = ["-o", str(out), "--config", str(TINY), "--source", str(promod3_npz)]
    args += ["--scop", str(promod3_npz.parent / "scop2.tsv"), "--no-wheels", "--max-train-chains", "6"]
    args += ["--data-mb", "8"]  # the bundle's contents under a set budget, whatever the repository's size
    benchmark_script("gpu_bundle").main(args)
    return out


def _overrides(bundle: Path) -> list[str]:
    return ["--set", f"data.promod3={bundle / 'chains.npz'}", "--set", f"data.scop={bundle / 'scop2.tsv'}"]


def test_bundle_holds_all_validation_chains_of_the_whole_archive(bundle: Path, promod3_npz: Path) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    full = load_training_data(load_config(TINY, [f'data.promod3="{promod3_npz}"']).data)
    cfg = load_config(
        TINY, [f'data.promod3="{bundle / "chains.npz"}"', f'data.scop="{bundle / "scop2.tsv"}"']
    )
    sub = load_training_data(cfg.data)
    val = sorted(sub.store.ids[i] for i in sub.val)
    assert val == sorted(full.store.ids[i] for i in full.val)
    train = {sub.store.ids[i] for i in sub.train}
    assert len(train) == 6 and train <= {full.store.ids[i] for i in full.train}
    assert manifest["chains"]["validation_chains"] == len(val) and manifest["wheels"] == []
    src_keys = set(np.load(promod3_npz).files)
    assert set(np.load(bundle / "chains.npz").files) == src_keys | {
        "split_val",
        "split_group",
        "split_params",
    }
    assert (bundle / "scop2.tsv").read_bytes() == (promod3_npz.parent / "scop2.tsv").read_bytes()


def test_gpu_train_sh_runs_the_whole_path_on_cpu(bundle: Path, tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    cmd = [
        "bash",
        str(REPO / "benchmarks" / "gpu_train.sh"),
        str(out),
        str(TINY),
        "--cpu",
        *_overrides(bundle),
    ]
    cmd += ["--warmup-steps", "3", "--train-seconds", "8", "--max-steps", "4", "--val-points", "2"]
    cmd += ["--work", str(work)]
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1", PROTOK_GPU_BUNDLE=str(bundle))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files == OUT_FILES  # at most 8 files come back from the GPU machine
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == summary["total_steps"] == 4 and not summary["stopped_by_guard"]
    assert summary["plan"]["capped_by_max_steps"] and summary["warmup"]["s_per_step"] > 0
    assert summary["final_validation"]["step"] == 4 and summary["device"] == "cpu"
    tok = protok.load(out / "model")
    [chain] = tok.encode(REPO / "structures" / "1ubi.pdb")
    assert len(chain.tokens) == 76
    card = json.loads((out / "model" / "config.json").read_text())["card"]
    assert card["training"]["steps"] == 4 and "CPU" in card["training"]["hardware"]
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_gpu_train_sh_needs_cuda_without_cpu_flag(bundle: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHON=sys.executable, PROTOK_GPU_BUNDLE=str(bundle))
    res = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu_train.sh"), str(tmp_path / "out"), str(TINY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if "device available: True" in res.stdout:
        pytest.skip("a CUDA device is present")
    assert res.returncode == 3 and "no CUDA device" in res.stderr and "--cpu" in res.stderr


def test_guard_stops_training_and_exports_the_latest_checkpoint(
    bundle: Path, tmp_path: Path, benchmark_script: Callable[[str], ModuleType]
) -> None:
    args = [str(tmp_path / "out"), "--config", str(TINY), *_overrides(bundle), "--device", "cpu"]
    args += ["--warmup-steps", "0", "--steps", "100000", "--val-points", "100000", "--guard-seconds", "6"]
    summary = benchmark_script("gpu_train").main([*args, "--work", str(tmp_path / "work")])
    assert summary["stopped_by_guard"] and 0 < summary["steps"] < 100000
    assert summary["checkpoint"] == f"step_{summary['steps']:08d}"
    assert protok.load(tmp_path / "out" / "model").model is not None


def test_slim_wheel_drops_files_and_stays_installable(
    tmp_path: Path, benchmark_script: Callable[[str], ModuleType]
) -> None:
    gpu_bundle = benchmark_script("gpu_bundle")
    whl = tmp_path / "demo-1.0-py3-none-any.whl"
    files = {
        "demo/__init__.py": b"VALUE = 1\n",
        "demo/big.bin": b"x" * 1000,
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{n},,\n" for n in files) + "demo-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(whl, "w") as z:
        for name, blob in {**files, "demo-1.0.dist-info/RECORD": record.encode()}.items():
            z.writestr(name, blob)
    slim = gpu_bundle.slim_wheel(whl, tmp_path / "slim", ("demo/big.bin",))
    assert slim.name == "demo-1.0-0slim-py3-none-any.whl"
    with zipfile.ZipFile(slim) as z:
        names = z.namelist()
        rows = list(csv.reader(z.read("demo-1.0.dist-info/RECORD").decode().splitlines()))
        for name, digest, size in rows:
            if name.endswith("RECORD"):
                continue
            blob = z.read(name)
            want = urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={want}" and int(size) == len(blob)
    assert "demo/big.bin" not in names and names[-1] == "demo-1.0.dist-info/RECORD"
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(target)]
    subprocess.run([*pip, str(slim)], check=True, capture_output=True, timeout=120)
    assert (target / "demo" / "__init__.py").is_file() and not (target / "demo" / "big.bin").exists()


def test_bundle_manifest_sizes_of_a_subset_archive(bundle: Path) -> None:
    archive = Promod3Chains(bundle / "chains.npz")
    manifest = json.loads((bundle / "bundle.json").read_text())["chains"]
    assert manifest["chains"] == len(archive) and manifest["bytes"] == (bundle / "chains.npz").stat().st_size
    assert (
        archive.stored_split is not None
        and int(archive.stored_split.val.sum()) == manifest["validation_chains"]
    )
