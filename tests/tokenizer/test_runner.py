"""Batch runs: input discovery, shards, errors file, atomic shards and resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from protok.errors import InputNotFoundError
from protok.structures import read_structure
from protok.tokenizer import Tokenizer, read_records
from protok.tokenizer.config import TokenizeConfig
from protok.tokenizer.inputs import collect_inputs, parse_shard, record_ids, select_shard
from protok.tokenizer.per_file import encode_group, parse_file, tokenize_files
from protok.tokenizer.runner import run_tokenize
from protok.tokenizer.store import ShardStore, errors_path_for


def _expected(good: list[Path]) -> Counter:
    return Counter((str(p), c.auth_chain_id) for p in good for c in read_structure(p).chains)


def _got(path: Path, vocab=None) -> Counter:
    return Counter((r["source"], r["chain"]) for r in read_records(path, vocab))


def test_collect_inputs_dirs_globs_and_missing(mixed_folder):
    folder, good, bad = mixed_folder
    files = collect_inputs([folder])
    assert files == sorted(str(p) for p in good + bad)
    assert collect_inputs([str(folder / "*.pdb")]) == sorted(
        str(p) for p in (good + bad) if p.parent == folder and p.suffix == ".pdb"
    )
    assert collect_inputs([str(folder / "**" / "*.gz")]) == sorted(
        str(p) for p in good if p.name.endswith(".gz")
    )
    with pytest.raises(InputNotFoundError):
        collect_inputs([folder / "nope.pdb"])
    with pytest.raises(InputNotFoundError):
        collect_inputs([str(folder / "*.xyz")])


def test_shards_are_disjoint_and_cover_everything():
    files = [f"f{i:03d}.pdb" for i in range(23)]
    parts = [select_shard(files, i, 4) for i in range(4)]
    assert sorted(sum(parts, [])) == files
    assert len(set(sum(parts, []))) == 23
    assert select_shard(files[::-1], 1, 4) == parts[1]  # order of the input list does not matter
    assert parse_shard("2/8") == (2, 8)
    for bad in ("8/8", "x", "1/0", "-1/3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_parse_file_records_failures_instead_of_raising(mixed_folder, tok):
    folder, good, bad = mixed_folder
    ok = parse_file(str(good[0]), k=tok.k_neighbours)
    assert ok.error is None and len(ok.items) == 1
    for b in bad:
        res = parse_file(str(b), k=tok.k_neighbours)
        assert res.items == [] and res.error and res.source == str(b)
        assert str(b) not in res.error  # the reason does not repeat the path it is recorded against
    assert parse_file(str(bad[1]), k=tok.k_neighbours).error.startswith(
        "NoProteinChainError: no protein chain"
    )
    assert parse_file(str(bad[0]), k=tok.k_neighbours).error.startswith(
        "CorruptStructureError: truncated coordinate record"
    )


@pytest.mark.parametrize("ext", ["jsonl", "parquet", "fasta"])
def test_run_writes_every_good_chain_once_and_records_failures(mixed_folder, tok, tmp_path, ext):
    folder, good, bad = mixed_folder
    out = tmp_path / f"tokens.{ext}"
    cfg = TokenizeConfig(inputs=collect_inputs([folder]), output=out, files_per_shard=4, progress=False)
    summary = run_tokenize(tok, cfg)
    assert summary.failed == 2 and summary.ok == len(good)
    assert not out.with_name(out.name + ".parts").exists()
    if ext == "fasta":
        names = Counter(r["id"] + "_" + r["chain"] for r in read_records(out, tok.vocab))
        assert names == Counter(p.name.split(".")[0] + "_A" for p in good)
    else:
        assert _got(out) == _expected(good)
        recs = list(read_records(out))
        assert set(recs[0]) == {"id", "source", "chain", "length", "sequence", "tokens", "residue_ids"}
        assert all(
            len(r["tokens"]) == r["length"] == len(r["sequence"]) == len(r["residue_ids"]) for r in recs
        )
    lines = errors_path_for(out).read_text().splitlines()
    assert lines[0] == "source\treason"
    assert sorted(line.split("\t")[0] for line in lines[1:]) == sorted(str(b) for b in bad)


def test_stream_output_is_fasta(tok, tmp_path):
    import io

    from protok.tokenizer import from_text

    buf = io.StringIO()
    src = str(Path(__file__).resolve().parents[2] / "structures" / "1ubi.pdb")
    summary = run_tokenize(tok, TokenizeConfig(inputs=[src], progress=False), stream=buf)
    header, text = buf.getvalue().splitlines()
    assert header == ">1ubi_A" and summary.ok == 1
    assert from_text(text, tok.vocab).tolist() == tok.encode(src)[0].tokens.tolist()


def test_stream_output_names_a_failed_file_once(tok, caplog):
    import io

    bad = str(Path(__file__).resolve().parents[2] / "structures" / "not_a_structure.pdb")
    with caplog.at_level("WARNING", logger="protok.tokenizer.runner"):
        summary = run_tokenize(tok, TokenizeConfig(inputs=[bad], progress=False), stream=io.StringIO())
    assert summary.failed == 1
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"failed: {bad}: UnknownFormatError: not a PDB, mmCIF or BinaryCIF file")
    assert message.count(bad) == 1


def test_resume_drops_orphans_and_torn_manifest_lines(mixed_folder, tok, tmp_path):
    folder, good, bad = mixed_folder
    files = collect_inputs([folder])
    out = tmp_path / "tokens.jsonl"
    store = ShardStore(out, tok.vocab)
    store.start(resume=False)
    # simulate a crash: one committed shard, one orphan shard file, a torn manifest line and a temp file
    from protok.tokenizer.runner import _parse_many

    first = list(_parse_many(files[:2], TokenizeConfig(inputs=files[:2]), tok.k_neighbours))
    recs, failed = encode_group(tok, first)
    store.commit(recs, files[:2], failed)
    (store.parts / "part-000001.jsonl").write_text('{"id": "orphan"}\n')
    (store.parts / "part-000002.jsonl.tmp").write_text("partial")
    with open(store.manifest, "a") as fh:
        fh.write('{"shard": "part-000001.jsonl", "sources": ["x"')
    # a fresh run without --resume refuses to clobber the unfinished one
    with pytest.raises(FileExistsError):
        run_tokenize(tok, TokenizeConfig(inputs=files, output=out, progress=False))
    summary = run_tokenize(
        tok, TokenizeConfig(inputs=files, output=out, resume=True, files_per_shard=3, progress=False)
    )
    assert summary.done_before == 2
    assert _got(out) == _expected(good)
    assert summary.failed == 2
    # resuming a finished run tries its failed inputs again (they still fail) and keeps every record
    again = run_tokenize(tok, TokenizeConfig(inputs=files, output=out, resume=True, progress=False))
    assert again.done_before == len(files) - 2 and again.failed == 2 and _got(out) == _expected(good)
    assert not out.with_name(out.name + ".parts").exists()


def test_record_ids_are_unique_within_a_run(tok, tmp_path):
    """Same file names in two folders, and one entry as .pdb and .cif: every record keeps its own id."""
    s = Path(__file__).resolve().parents[2] / "structures"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    copies = {
        "a/x.pdb": "1ubi.pdb", "b/x.pdb": "1ejg.pdb", "1a8o.pdb": "1a8o.pdb", "1a8o.cif": "1a8o.cif",
        "b/2xhe.pdb.gz": "2xhe.pdb.gz",
    }  # fmt: skip
    for target, name in copies.items():
        (tmp_path / target).write_bytes((s / name).read_bytes())
    files = collect_inputs([tmp_path])
    ids = record_ids(files)
    assert {Path(f).relative_to(tmp_path).as_posix(): i for f, i in ids.items()} == {
        "a/x.pdb": "a/x", "b/x.pdb": "b/x", "1a8o.pdb": "1a8o.pdb", "1a8o.cif": "1a8o.cif",
        "b/2xhe.pdb.gz": "2xhe",
    }  # fmt: skip
    out = tmp_path / "t.jsonl"
    run_tokenize(tok, TokenizeConfig(inputs=files, output=out, files_per_shard=2, progress=False))
    recs = list(read_records(out))
    assert len(recs) == 6
    assert len({(r["id"], r["chain"]) for r in recs}) == 6  # no two records share id and chain
    assert {r["id"]: r["source"] for r in recs}["a/x"] == str(tmp_path / "a" / "x.pdb")
    # a shard of the run names its records as the whole run does
    shard = run_tokenize(
        tok, TokenizeConfig(inputs=files[1:2], output=tmp_path / "s.jsonl", ids=ids, progress=False)
    )
    assert shard.ok == 1
    assert [r["id"] for r in read_records(tmp_path / "s.jsonl")] == [ids[files[1]]]


def test_resume_retries_inputs_that_failed(tok, tmp_path):
    """A failed input is tried again on --resume, in an unfinished run and in a finished output alike."""
    s = Path(__file__).resolve().parents[2] / "structures"
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("1ubi.pdb", "1ejg.pdb", "1lcd.pdb"):
        (folder / name).write_bytes((s / name).read_bytes())
    flaky = folder / "later.pdb"
    flaky.write_bytes((s / "1ubi_truncated.pdb").read_bytes())
    files = collect_inputs([folder])
    for fmt in ("jsonl", "parquet", "fasta"):
        out = tmp_path / f"tokens.{fmt}"
        first = run_tokenize(tok, TokenizeConfig(inputs=files, output=out, files_per_shard=2, progress=False))
        assert (first.ok, first.failed) == (3, 1)
        before = out.read_bytes()
        still = run_tokenize(tok, TokenizeConfig(inputs=files, output=out, resume=True, progress=False))
        assert (still.ok, still.failed) == (3, 1) and still.failures[0].source == str(flaky)
        flaky.write_bytes((s / "2n0n_model1.pdb").read_bytes())  # the input is mended
        fixed = run_tokenize(tok, TokenizeConfig(inputs=files, output=out, resume=True, progress=False))
        assert (fixed.ok, fixed.failed, fixed.done_before) == (4, 0, 3)
        assert not errors_path_for(out).exists() and not out.with_name(out.name + ".parts").exists()
        recs = list(read_records(out, tok.vocab))
        assert sorted(r["id"] for r in recs) == ["1ejg", "1lcd", "1ubi", "later"]
        if fmt != "parquet":
            assert out.read_bytes().startswith(before)  # the earlier records are kept as they were
        flaky.write_bytes((s / "1ubi_truncated.pdb").read_bytes())
    # an unfinished run: the failure committed in a shard is retried too
    out = tmp_path / "unfinished.jsonl"
    store = ShardStore(out, tok.vocab)
    store.start(resume=False)
    records, failed = tokenize_files(tok, [str(flaky)])
    store.commit(records, [str(flaky)], failed)
    assert [f.source for f in failed] == [str(flaky)]
    flaky.write_bytes((s / "2n0n_model1.pdb").read_bytes())
    done = run_tokenize(tok, TokenizeConfig(inputs=files, output=out, resume=True, progress=False))
    assert (done.ok, done.failed) == (4, 0) and len(list(read_records(out))) == 4


def test_process_pool_gives_same_records(mixed_folder, tok, tmp_path, monkeypatch):
    from protok.tokenizer import runner
    from protok.tokenizer import workers as pool_module

    folder, good, bad = mixed_folder
    files = collect_inputs([folder])
    outs = []
    monkeypatch.setattr(pool_module, "MIN_FILES_FOR_POOL", 1)
    monkeypatch.setattr(runner, "CHUNK_FILES", 2)  # several chunks: some run in the workers, some here
    for workers in (0, 2):
        out = tmp_path / f"w{workers}.jsonl"
        run_tokenize(tok, TokenizeConfig(inputs=files, output=out, workers=workers, progress=False))
        outs.append(sorted(json.dumps(r, sort_keys=True) for r in read_records(out)))
    # a tokenizer workers cannot load by name (as with a GPU encoder): workers parse, this process encodes
    unnamed = Tokenizer(tok.model, name="<in-memory model>")
    assert runner._worker_model(unnamed, TokenizeConfig(inputs=files)) is None
    out = tmp_path / "unnamed.jsonl"
    run_tokenize(unnamed, TokenizeConfig(inputs=files, output=out, workers=2, progress=False))
    outs.append(sorted(json.dumps(r, sort_keys=True) for r in read_records(out)))
    assert outs[0] == outs[1] == outs[2]


def test_encode_failure_is_recorded_against_its_file(mixed_folder, tok, monkeypatch):
    """When the encoder fails on one file's chains, that file is recorded as failed and the others go on."""
    folder, good, bad = mixed_folder
    files = sorted(str(p) for p in good)[:3]
    results = [parse_file(f, k=tok.k_neighbours) for f in files]
    victim = results[1].items[0].chain
    original = tok.encode_featurized

    def flaky(items):
        if any(it.chain is victim for it in items):
            raise MemoryError("simulated out of memory")
        return original(items)

    monkeypatch.setattr(tok, "encode_featurized", flaky)
    records, failed = encode_group(tok, results)
    assert [f.source for f in failed] == [files[1]]
    assert failed[0].reason == "MemoryError: simulated out of memory"
    assert {r["source"] for r in records} == {files[0], files[2]}


def test_resume_after_sigkill(tmp_path, model_dir, mixed_folder_factory):
    """Kill a real `protok tokenize` run with SIGKILL midway, resume, and find every good chain exactly once."""
    folder, good, bad = mixed_folder_factory(tmp_path, copies=6)
    out = tmp_path / "tokens.jsonl"
    parts = out.with_name(out.name + ".parts")
    cmd = [str(Path(sys.executable).parent / "protok"), "tokenize", str(folder), "-o", str(out), "--model", str(model_dir),
           "--files-per-shard", "1", "--workers", "0", "--no-progress"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            manifest = parts / "manifest.jsonl"
            if manifest.exists() and manifest.read_text().count("\n") >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("run made no progress")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    n_done = parts.joinpath("manifest.jsonl").read_text().count("\n")
    assert 3 <= n_done < len(good) + len(bad)
    res = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 1, res.stderr  # two inputs failed
    assert "2 failed" in res.stderr.splitlines()[-1]
    assert _got(out) == _expected(good)
    errors = errors_path_for(out).read_text().splitlines()[1:]
    assert sorted(e.split("\t")[0] for e in errors) == sorted(str(b) for b in bad)


def test_engines_share_the_per_file_module_without_importing_each_other():
    code = (
        "import sys, protok.tokenizer.ray_engine, protok.tokenizer.per_file; "
        "print('protok.tokenizer.runner' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
