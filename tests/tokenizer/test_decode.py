"""Decoding token files into structure files: batched decoding, names, mmCIF fallback, errors, title."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from protok.structures import read_structure
from protok.tokenizer.config import TokenizeConfig
from protok.tokenizer.decode import decode_file, decoded_title
from protok.tokenizer.inputs import collect_inputs
from protok.tokenizer.result import format_residue_ids, parse_residue_ids
from protok.tokenizer.runner import run_tokenize

STRUCTURES = Path(__file__).resolve().parents[2] / "structures"


def test_decode_batch_matches_one_chain_at_a_time(tok):
    chains = [c for name in ("2xhe.pdb.gz", "1ubi.pdb", "1ejg.pdb") for c in tok.encode(STRUCTURES / name)]
    chains.append(chains[1].__class__(**{**chains[1].__dict__, "tokens": chains[1].tokens[:3].copy(),
                                         "mask": chains[1].mask[:3], "res_ids": chains[1].res_ids[:3],
                                         "ins_codes": chains[1].ins_codes[:3], "sequence": chains[1].sequence[:3],
                                         "chain_breaks": chains[1].chain_breaks[:3]}))  # fmt: skip
    together = tok.decode_batch(chains, idealize=False)
    assert [len(c) for c in together] == [len(c) for c in chains]
    idealized = tok.decode_batch(chains)
    for t, b, ideal in zip(chains, together, idealized):
        alone = tok.decode(t, idealize=False)
        np.testing.assert_allclose(b.coords, alone.coords, atol=1e-3)
        # idealization moves atoms by whole ångströms; float-rounding differences of its input stay small
        np.testing.assert_allclose(ideal.coords, tok.decode(t).coords, atol=0.05)
        assert np.array_equal(b.atom_mask, alone.atom_mask)
        assert b.auth_chain_id == t.chain_id and b.sequence == t.sequence
    # the short chains really share one padded decoder call; 2xhe A (567 residues) runs alone
    from protok.tokenizer.api import DECODE_PAIR_BUDGET

    assert 2 * 567**2 > DECODE_PAIR_BUDGET >= 5 * 220**2
    assert list(tok._decode_groups(chains)) == [[0], [1, 2, 3, 4]]


@pytest.fixture(scope="module")
def token_file(tok, tmp_path_factory):
    """Tokens of 4V8R (two-character chain ids), 1A8O as PDB and as mmCIF (same stem) and 1UBI."""
    tmp_path = tmp_path_factory.mktemp("tokens")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("4v8r_h36.pdb.gz", "1a8o.pdb", "1a8o.cif", "1ubi.pdb"):
        shutil.copy(STRUCTURES / name, folder / name)
    out = tmp_path / "tokens.jsonl"
    summary = run_tokenize(
        tok, TokenizeConfig(inputs=collect_inputs([folder]), output=out, chains=None, progress=False)
    )
    assert summary.failed == 0
    # keep three 4V8R chains (AA, Aa and BB: the file has 32) so the test stays quick
    keep = [r for r in map(json.loads, out.read_text().splitlines()) if r["chain"] in ("A", "AA", "Aa", "BB")]
    out.write_text("".join(json.dumps(r) + "\n" for r in keep))
    return out


def test_decode_file_writes_every_record_mmcif_where_pdb_cannot_hold_it(tok, token_file, tmp_path):
    out = tmp_path / "decoded"
    summary = decode_file(tok, token_file, out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [
            "1a8o.cif_A.pdb",
            "1a8o.pdb_A.pdb",
            "1ubi_A.pdb",
            "4v8r_h36_AA.cif",
            "4v8r_h36_Aa-2.cif",
            "4v8r_h36_BB.cif",
        ]
    )
    assert summary.records == 6 and len(summary.written) == 6 and not summary.failures
    assert summary.as_cif == 3 and summary.renamed == 1  # AA and Aa differ only in case
    assert "wrote 6 files (3 as mmCIF" in summary.line()
    assert not (tmp_path / "decoded.errors.tsv").exists()
    back = read_structure(out / "4v8r_h36_Aa-2.cif").chains[0]
    assert back.auth_chain_id == "Aa" and len(back) == 537
    # every file says what it is: decoded from structure tokens, by which model and protok version
    title = decoded_title(tok)
    assert "decoded from structure tokens" in title and tok.card["name"] in title
    assert (out / "1ubi_A.pdb").read_text().startswith("TITLE     Backbone (N, CA, C, O) decoded from")
    assert title in (out / "4v8r_h36_AA.cif").read_text()


def test_decode_file_records_bad_records_and_never_overwrites(tok, token_file, tmp_path):
    lines = token_file.read_text().splitlines()
    ubi = json.loads(next(line for line in lines if '"1ubi"' in line))
    broken = dict(ubi, tokens=ubi["tokens"][:-1])  # one token short of its sequence
    text = "\n".join([*lines, json.dumps(ubi), json.dumps(broken), "{not json", ""])  # 1ubi twice
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(text)
    out = tmp_path / "dec"
    summary = decode_file(tok, mixed, out, fmt="pdb")
    on_disk = [p for p in out.rglob("*") if p.is_file()]
    assert len(summary.written) == len(on_disk) == 7  # the repeated record got 1ubi_A-2.pdb
    assert (out / "1ubi_A-2.pdb").is_file() and summary.renamed == 2
    assert summary.records == 9 and len(summary.failures) == 2
    errors = (tmp_path / "dec.errors.tsv").read_text().splitlines()
    assert errors[0] == "record\treason" and len(errors) == 3
    assert any("TokenFileError" in e and "76 tokens" not in e and "sequence 76" in e for e in errors)
    assert any("not JSON" in e for e in errors)


def test_decode_file_with_worker_pool_writes_the_same(tok, token_file, tmp_path, model_dir):
    from protok.tokenizer.workers import start_pool

    plain = tmp_path / "plain"
    decode_file(tok, token_file, plain)
    with start_pool(1, str(model_dir)) as pool:
        pooled = decode_file(tok, token_file, tmp_path / "pooled", pool=pool)
    assert len(pooled.written) == 6
    for p in pooled.written:
        ref = read_structure(plain / p.name).chains[0]
        got = read_structure(p).chains[0]
        np.testing.assert_allclose(got.coords, ref.coords, atol=2e-3)


def test_record_breaks_come_from_residue_numbering(tok):
    from protok.tokenizer.decode import record_to_chain
    from protok.tokenizer.result import numbering_breaks

    nums, _ = parse_residue_ids(["1", "2", "2A", "2B", "3", "7", "8", "-1"])
    assert numbering_breaks(nums).tolist() == [False, False, False, False, False, True, False, True]
    (t,) = tok.encode(STRUCTURES / "2xhe.pdb.gz", chains="A")  # one gap: residues 510-560 absent
    ids = format_residue_ids(t.res_ids, t.ins_codes)
    rec = {"id": "x", "chain": "A", "tokens": t.tokens.tolist(), "residue_ids": ids}
    back = record_to_chain(rec, tok)
    np.testing.assert_array_equal(back.chain_breaks, t.chain_breaks)
    np.testing.assert_array_equal(tok.decode(back).coords, tok.decode(t).coords)
