"""`protok tokenize` through click's test runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from protok.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
STRUCTURES = REPO / "structures"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_tokenize_to_stdout_prints_fasta(model_dir, tok):
    res = _run("tokenize", str(STRUCTURES / "1ubi.pdb"), "--model", str(model_dir), "--no-progress")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == ">1ubi_A"
    assert lines[1] == " ".join(map(str, tok.encode(STRUCTURES / "1ubi.pdb")[0].tokens.tolist()))
    assert "1 ok, 0 failed" in res.stderr


def test_tokenize_jsonl_fields_and_failure_exit(model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("1ubi.pdb", "2n0n_model1.pdb", "not_a_structure.pdb"):
        shutil.copy(STRUCTURES / name, folder / name)
    out = tmp_path / "t.jsonl"
    res = _run(
        "tokenize", str(folder), "-o", str(out), "--model", str(model_dir), "--workers", "0", "--no-progress"
    )
    assert res.exit_code == 1
    last = res.stderr.strip().splitlines()[-1]
    assert "2 ok, 1 failed" in last and "t.jsonl.errors.tsv" in last
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [list(r) for r in recs] == [
        ["id", "source", "chain", "length", "sequence", "tokens", "residue_ids"]
    ] * 2
    by_id = {r["id"]: r for r in recs}
    assert by_id["1ubi"]["length"] == 76 and by_id["1ubi"]["source"] == str(folder / "1ubi.pdb")
    assert "9A" in by_id["2n0n_model1"]["residue_ids"]
    assert "not_a_structure.pdb" in (tmp_path / "t.jsonl.errors.tsv").read_text()


def test_each_output_has_its_own_errors_file_and_resume_exits_1_while_inputs_fail(model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(STRUCTURES / "1ubi.pdb", folder / "1ubi.pdb")
    shutil.copy(STRUCTURES / "empty.pdb", folder / "late.pdb")
    common = [str(folder), "--model", str(model_dir), "--workers", "0", "--no-progress"]
    for ext in ("parquet", "jsonl"):
        res = _run("tokenize", *common, "-o", str(tmp_path / f"tokens.{ext}"))
        assert res.exit_code == 1 and f"tokens.{ext}.errors.tsv" in res.stderr
    for ext in ("parquet", "jsonl"):  # the second run did not overwrite the first one's errors file
        lines = (tmp_path / f"tokens.{ext}.errors.tsv").read_text().splitlines()
        assert len(lines) == 2 and lines[1].startswith(f"{folder / 'late.pdb'}\tEmptyStructureError: ")
    assert not (tmp_path / "tokens.errors.tsv").exists()
    out = str(tmp_path / "tokens.jsonl")
    again = _run("tokenize", *common, "-o", out, "--resume")
    assert again.exit_code == 1 and "1 failed" in again.stderr.splitlines()[-1]
    shutil.copy(STRUCTURES / "1ejg.pdb", folder / "late.pdb")  # mended: retried and written
    fixed = _run("tokenize", *common, "-o", out, "--resume")
    assert fixed.exit_code == 0, fixed.output
    assert sorted(json.loads(line)["id"] for line in Path(out).read_text().splitlines()) == ["1ubi", "late"]
    assert not (tmp_path / "tokens.jsonl.errors.tsv").exists()
    assert (tmp_path / "tokens.parquet.errors.tsv").exists()


def test_tokenize_with_early_worker_pool_matches_in_process(model_dir, tmp_path, monkeypatch):
    """The command starts its encoding workers before loading the model itself; same records as --workers 0."""
    from protok.tokenizer import runner, workers

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        for name in ("1ubi.pdb", "2n0n_model1.pdb", "not_a_structure.pdb"):
            shutil.copy(STRUCTURES / name, folder / f"{i}_{name}")
    monkeypatch.setattr(workers, "MIN_FILES_FOR_POOL", 1)
    monkeypatch.setattr(runner, "CHUNK_FILES", 2)
    started = []
    real_start = workers.start_pool
    monkeypatch.setattr(workers, "start_pool", lambda *a: started.append(a) or real_start(*a))
    outs = {}
    for n in ("0", "1"):
        out = tmp_path / f"w{n}.jsonl"
        res = _run(
            "tokenize",
            str(folder),
            "-o",
            str(out),
            "--model",
            str(model_dir),
            "--workers",
            n,
            "--no-progress",
        )
        assert res.exit_code == 1 and "6 ok, 3 failed" in res.stderr
        outs[n] = sorted(out.read_text().splitlines())
    assert started == [(1, str(model_dir))]
    assert outs["0"] == outs["1"]


def test_tokenize_shard_and_chains_options(model_dir, tmp_path):
    out = tmp_path / "s.parquet"
    args = [
        str(STRUCTURES / "3o21.pdb.gz"),
        str(STRUCTURES / "1ubi.pdb"),
        "--model",
        str(model_dir),
        "--no-progress",
    ]
    res = _run("tokenize", *args, "--shard", "1/2", "--chains", "A", "-o", str(out))
    assert res.exit_code == 0, res.output
    import pyarrow.parquet as pq

    t = pq.read_table(out)
    assert t.column_names == ["id", "source", "chain", "length", "sequence", "tokens", "residue_ids"]
    assert t.column("id").to_pylist() == ["3o21"] and t.column("chain").to_pylist() == ["A"]
    bad = _run("tokenize", *args, "--shard", "2/2")
    assert bad.exit_code == 2 and "shard" in bad.output
    missing = _run("tokenize", str(tmp_path / "nothing-here.pdb"), "--model", str(model_dir))
    assert missing.exit_code == 2 and "no such file" in missing.output


@pytest.mark.ray
def test_ray_engine_matches_local(model_dir, tmp_path):
    pytest.importorskip("ray")
    import ray

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("1ubi.pdb", "1a8o.cif", "3jqh.bcif.gz", "ions.pdb"):
        shutil.copy(STRUCTURES / name, folder / name)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        outs = {}
        for engine in ("local", "ray"):
            out = tmp_path / f"{engine}.jsonl"
            res = _run("tokenize", str(folder), "-o", str(out), "--model", str(model_dir), "--engine", engine,
                       "--files-per-shard", "2", "--no-progress")  # fmt: skip
            assert res.exit_code == 1, res.output  # ions.pdb has no protein chain
            outs[engine] = sorted(out.read_text().splitlines())
            assert "ions.pdb" in (tmp_path / f"{engine}.jsonl.errors.tsv").read_text()
        assert outs["ray"] == outs["local"] and len(outs["ray"]) == 3
    finally:
        ray.shutdown()


def test_command_line_process_with_workers_writes_everything_and_exits_1(model_dir, tmp_path):
    """The installed command in its own process, with a worker pool (>= 128 files), which ends its process
    and the workers' without the interpreter's teardown: every record written, the failure recorded, exit
    status 1."""
    import subprocess
    import sys

    from protok.tokenizer.workers import MIN_FILES_FOR_POOL

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(MIN_FILES_FOR_POOL):
        shutil.copy(STRUCTURES / "1ubi.pdb", folder / f"u{i:03d}.pdb")
    shutil.copy(STRUCTURES / "not_a_structure.pdb", folder / "bad.pdb")
    out = tmp_path / "t.jsonl"
    cmd = [str(Path(sys.executable).parent / "protok"), "tokenize", str(folder), "-o", str(out)]
    cmd += ["--model", str(model_dir), "--workers", "1", "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert f"{MIN_FILES_FOR_POOL} ok, 1 failed" in res.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == MIN_FILES_FOR_POOL and all(r["length"] == 76 for r in records)
    assert "bad.pdb" in (tmp_path / "t.jsonl.errors.tsv").read_text()
