"""The tokenizer API on real structures: encode / encode_batch / embed / decode."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from protok.errors import ChainNotFoundError, ModelNotFoundError, StructureError
from protok.structures import ProteinChain, ProteinComplex, read_structure
from protok.tokenizer import TokenizedChain, from_text, to_text

STRUCTURES = Path(__file__).resolve().parents[2] / "structures"


def test_encode_single_chain_fields(tok):
    cx = read_structure(STRUCTURES / "1ubi.pdb")
    (r,) = tok.encode(STRUCTURES / "1ubi.pdb")
    chain = cx.chains[0]
    assert isinstance(r, TokenizedChain)
    assert r.chain_id == "A" and len(r) == 76 and r.sequence == chain.sequence
    assert r.tokens.dtype == np.int64 and r.tokens.shape == (76,)
    assert r.mask.all() and (r.tokens < tok.vocab.codebook_size).all()
    np.testing.assert_array_equal(r.res_ids, chain.res_ids)
    assert r.residue_ids[:3] == ["1", "2", "3"]
    assert r.id == "1ubi" and r.source.endswith("1ubi.pdb")
    # tokens vary along the chain (the test model is not degenerate)
    assert len(np.unique(r.tokens)) > 20
    t = r.torch()
    assert t.dtype == torch.long and t.data_ptr() == r.tokens.__array_interface__["data"][0]


def test_same_tokens_from_path_bytes_atomarray_and_chain(tok):
    path = STRUCTURES / "1ubi.pdb"
    ref = tok.encode(path)[0].tokens
    from biotite.structure.io import pdb

    atoms = pdb.PDBFile.read(path).get_structure(model=1, extra_fields=["b_factor"])
    chain = read_structure(path).chains[0]
    ids = []
    for src in (str(path), path.read_bytes(), gzip.compress(path.read_bytes()), atoms, chain):
        r = tok.encode(src)[0]
        np.testing.assert_array_equal(r.tokens, ref)
        ids.append(r.id)
    assert ids == ["1ubi", "<bytes>", "<bytes>", "<AtomArray>", "1ubi"]


@pytest.fixture(scope="module")
def o21(tok) -> list[TokenizedChain]:
    return tok.encode(STRUCTURES / "3o21.pdb.gz")


def test_multichain_complex_is_tokenized_chain_by_chain(tok, o21):
    rs = o21
    assert [r.chain_id for r in rs] == ["A", "B", "C", "D"]
    assert [len(r) for r in rs] == [374, 365, 375, 375]
    # a chain's tokens do not depend on its partners
    alone = tok.encode(STRUCTURES / "3o21.pdb.gz", chains="C")
    assert len(alone) == 1
    np.testing.assert_array_equal(alone[0].tokens, rs[2].tokens)
    sub = tok.encode(read_structure(STRUCTURES / "3o21.pdb.gz"), chains=["D", "B"])
    assert [r.chain_id for r in sub] == ["D", "B"]
    with pytest.raises(ChainNotFoundError):
        tok.encode(read_structure(STRUCTURES / "3o21.pdb.gz"), chains=["Z"])


def test_residue_without_backbone_gets_missing_token(tok):
    # 2XHE: ALA A617 has only its N atom (structures/SOURCES.md)
    rs = tok.encode(STRUCTURES / "2xhe.pdb.gz", chains="A")
    r = rs[0]
    i = r.residue_ids.index("617")
    assert not r.mask[i] and r.tokens[i] == tok.vocab.missing
    assert r.mask.sum() == len(r) - 1
    assert r.chain_breaks.any()  # the geometric break at A561 is reported, not hidden


def test_insertion_codes_are_kept(tok):
    (r,) = tok.encode(STRUCTURES / "2n0n_model1.pdb")
    assert "9A" in r.residue_ids


def test_bad_inputs_raise_typed_errors(tok):
    with pytest.raises(StructureError, match="not_a_structure"):
        tok.encode(STRUCTURES / "not_a_structure.pdb")
    with pytest.raises(StructureError):
        tok.encode(STRUCTURES / "ions.pdb")
    import protok.tokenizer as T

    with pytest.raises(ModelNotFoundError):
        T.load("no-such-model-v9")


def _chains_for_batching() -> list[ProteinChain]:
    chains = list(read_structure(STRUCTURES / "2xhe.pdb.gz", chains="B").chains)
    chains += list(read_structure(STRUCTURES / "1a8o.cif").chains)
    chains += list(read_structure(STRUCTURES / "1ubi.pdb").chains)
    c = chains[-1]
    # tiny chains (2..5 residues) exercise the small-matrix BLAS paths
    chains += [c.slice(10, 12), c.slice(20, 23), c.slice(30, 35)]
    return chains


def test_encode_batch_is_bit_identical_to_one_at_a_time(tok):
    chains = _chains_for_batching()
    old = torch.get_num_threads()
    old_bs = tok.batch_size
    tk = tok
    try:
        ref = None
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for batch_size in (2, 64):
                tk.batch_size = batch_size
                mixed = [r[0].tokens for r in tk.encode_batch(chains[::-1])][::-1]
                if ref is None:
                    ref = [tk.encode(c)[0].tokens for c in chains]
                for a, b in zip(ref, mixed):
                    np.testing.assert_array_equal(a, b)
        # and one at a time under 2 threads equals one at a time under 1 (ref)
        for a, c in zip(ref, chains):
            np.testing.assert_array_equal(a, tk.encode(c)[0].tokens)
    finally:
        torch.set_num_threads(old)
        tok.batch_size = old_bs


def test_single_residue_chain(tok):
    c = read_structure(STRUCTURES / "1ubi.pdb").chains[0].slice(0, 1)
    (r,) = tok.encode(c)
    assert len(r) == 1
    assert 0 <= int(r.tokens[0]) < tok.vocab.codebook_size  # a full backbone gets a real code


def test_encode_batch_groups_per_source(tok):
    srcs = [STRUCTURES / "1ubi.pdb", STRUCTURES / "2xhe.pdb.gz", STRUCTURES / "1a8o.cif"]
    out = tok.encode_batch(srcs)
    assert [len(o) for o in out] == [1, 2, 1]
    assert [o[0].id for o in out] == ["1ubi", "2xhe", "1a8o"]


def test_tokens_invariant_to_rigid_motion(tok):
    chain = read_structure(STRUCTURES / "1ubi.pdb").chains[0]
    ref = tok.encode(chain)[0].tokens
    rot = Rotation.random(random_state=3).as_matrix().astype(np.float32)
    moved = chain.with_coords(chain.coords @ rot.T + np.float32([12.0, -40.0, 7.5]))
    agree = (tok.encode(moved)[0].tokens == ref).mean()
    # float32 rounding may flip a near-tie; anything else would be a real invariance bug
    assert agree >= 0.97


def test_embed_shapes(tok):
    zs = tok.embed(STRUCTURES / "2xhe.pdb.gz", chains="B,A")
    assert [z.shape for z in zs] == [(220, 128), (567, 128)]
    assert zs[0].dtype == np.float32 and np.isfinite(zs[0]).all()


def test_decode_writes_pdb_and_mmcif(tok, tmp_path):
    from protok.structures.write import write_structure

    (r,) = tok.encode(STRUCTURES / "1ubi.pdb")
    chain = tok.decode(r)
    assert isinstance(chain, ProteinChain) and chain.coords.shape == (76, 4, 3)
    assert chain.sequence == r.sequence and np.isfinite(chain.coords).all()
    # consecutive CA-CA distances are those of a protein-sized object, not garbage
    assert np.isfinite(np.linalg.norm(np.diff(chain.ca, axis=0), axis=1)).all()
    for ext in ("pdb", "cif"):
        path = write_structure(chain, tmp_path / f"out.{ext}")
        back = read_structure(path).chains[0]
        assert len(back) == 76
        np.testing.assert_allclose(back.coords, chain.coords, atol=2e-3)


def test_decode_idealizes_the_decoders_backbone_unless_asked_not_to(tok):
    from protok.structures.idealize import CA_CA, bonded_ca_ok, idealize_backbone

    (r,) = tok.encode(STRUCTURES / "2xhe.pdb.gz", chains="B")
    raw = tok.decode(r, idealize=False).coords
    np.testing.assert_array_equal(raw, tok.decode_coords(r.tokens, r.chain_breaks, idealize=False))
    ok_raw, bonds = bonded_ca_ok(raw, r.chain_breaks)
    assert ok_raw < bonds  # the test model's decoder alone does not make a valid chain
    out = tok.decode(r).coords
    np.testing.assert_array_equal(out, idealize_backbone(raw, r.chain_breaks))
    np.testing.assert_array_equal(out, tok.decode_coords(r.tokens, r.chain_breaks))
    np.testing.assert_array_equal(out, tok.decode_batch([r])[0].coords)
    assert bonded_ca_ok(out, r.chain_breaks, tol=0.05) == (bonds, bonds)
    linked = ~r.chain_breaks[1:]
    np.testing.assert_allclose(np.linalg.norm(np.diff(out[:, 1], axis=0), axis=1)[linked], CA_CA, atol=0.05)


def test_decode_token_ids_with_chainbreak_and_missing(tok):
    v = tok.vocab
    ids = np.array([v.bos, 3, 17, v.missing, 42, v.chainbreak, 7, 8, v.eos])
    out = tok.decode(ids)
    assert isinstance(out, ProteinComplex) and out.chain_ids == ("A", "B")
    a = out.chains[0]
    assert len(a) == 4 and not a.atom_mask[2].any() and a.atom_mask[[0, 1, 3]].all()
    same = tok.decode(to_text(ids, v))
    np.testing.assert_array_equal(same.chains[1].coords, out.chains[1].coords)
    single = tok.decode(torch.tensor([1, 2, 3]))
    assert isinstance(single, ProteinChain) and len(single) == 3
    np.testing.assert_array_equal(from_text(to_text(ids, v), v), ids)


def test_long_chain_is_not_truncated(tok, o21):
    # one 1,489-residue chain made by concatenating the four real chains of 3O21
    cx = read_structure(STRUCTURES / "3o21.pdb.gz")
    coords = np.concatenate([c.coords for c in cx.chains])
    mask = np.concatenate([c.atom_mask for c in cx.chains])
    long = ProteinChain(coords=coords, atom_mask=mask, sequence="".join(c.sequence for c in cx.chains))
    (r,) = tok.encode(long)
    assert len(r) == len(long) == 1489 and r.mask.sum() == mask[:, :3].all(1).sum()
    assert not np.array_equal(r.tokens, np.concatenate([x.tokens for x in o21]))  # neighbours changed


def test_pair_ids_of_real_chains_batch_in_one_call(tok):
    """SaProt-style pairs of real chains pad into one LM batch with the pair vocabulary's own specials."""
    from protok.tokenizer import collate, deinterleave, interleave, join_chains

    chains = [c for src in (STRUCTURES / "1ubi.pdb", STRUCTURES / "2xhe.pdb.gz") for c in tok.encode(src)]
    rows = [interleave(c.sequence, c.tokens, tok.vocab) for c in chains]
    pv = tok.vocab.pairs
    assert max(int(r.max()) for r in rows) > tok.vocab.size  # pair ids go far past the token vocabulary
    batch = collate(rows, pv, pad_to_multiple_of=8)
    longest = max(len(r) for r in rows) + 2
    assert batch.input_ids.shape == (len(rows), -(-longest // 8) * 8)
    for i, (row, chain) in enumerate(zip(rows, chains)):
        n = len(row)
        ids = batch.input_ids[i]
        assert ids[0] == pv.bos and ids[n + 1] == pv.eos and (ids[n + 2 :] == pv.pad).all()
        seq, toks = deinterleave(ids[1 : n + 1].numpy(), tok.vocab)
        assert seq == chain.sequence and (toks == np.where(chain.mask, chain.tokens, tok.vocab.missing)).all()
        assert int(batch.lengths[i]) == n + 2
    # the pair specials sit after every pair id and never collide with one
    assert min(pv.special_ids.values()) == 21 * (tok.vocab.codebook_size + 1)
    joined = join_chains(rows[1:], pv)  # a complex as one row of pairs
    assert (joined == pv.chainbreak).sum() == len(rows) - 2
    with pytest.raises(ValueError, match="outside the vocabulary"):
        collate([np.array([pv.size])], pv)


def test_encode_batch_skip_returns_the_others_and_reports_each_failure(tok, tmp_path):
    good = [STRUCTURES / "1ubi.pdb", STRUCTURES / "2xhe.pdb.gz", STRUCTURES / "1a8o.cif"]
    bad = [STRUCTURES / "not_a_structure.pdb", STRUCTURES / "ions.pdb"]
    sources = [good[0], bad[0], good[1], bad[1], good[2]]
    with pytest.raises(StructureError, match="not_a_structure"):
        tok.encode_batch(sources)  # errors="raise" is the default
    out = tok.encode_batch(sources, errors="skip")
    assert [[c.id for c in chains] for chains in out] == [["1ubi"], ["2xhe", "2xhe"], ["1a8o"]]
    ref = tok.encode_batch(good)
    for a, b in zip(out, ref):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.tokens, y.tokens)
    assert [(f.source, f.reason.split(":")[0]) for f in out.failures] == [
        (str(bad[0]), "UnknownFormatError"),
        (str(bad[1]), "NoProteinChainError"),
    ]
    assert not ref.failures
    with pytest.raises(ValueError, match="errors"):
        tok.encode_batch(good, errors="ignore")


def test_encode_batch_skip_isolates_an_encoder_failure(tok, monkeypatch):
    sources = [STRUCTURES / "1ubi.pdb", STRUCTURES / "1ejg.pdb", STRUCTURES / "1lcd.pdb"]
    original = tok.encode_featurized

    def flaky(items):
        if any(len(it.chain) == 46 for it in items):  # 1ejg's chain
            raise MemoryError("simulated out of memory")
        return original(items)

    monkeypatch.setattr(tok, "encode_featurized", flaky)
    out = tok.encode_batch(sources, errors="skip")
    assert [chains[0].id for chains in out] == ["1ubi", "1lcd"]
    assert [(f.source, f.reason) for f in out.failures] == [
        (str(sources[1]), "MemoryError: simulated out of memory")
    ]


def test_encode_batch_ids_are_unique_for_same_named_files(tok, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d, name in (("a", "1ubi.pdb"), ("b", "1ejg.pdb")):
        (tmp_path / d / "x.pdb").write_bytes((STRUCTURES / name).read_bytes())
    out = tok.encode_batch([tmp_path / "a" / "x.pdb", tmp_path / "b" / "x.pdb"])
    assert [chains[0].id for chains in out] == ["a/x", "b/x"]
    assert tok.encode(tmp_path / "a" / "x.pdb")[0].id == "x"


def test_graph_neighbours_come_from_the_model_config(tok):
    from protok.errors import ProtokError
    from protok.tokenizer import Tokenizer

    assert tok.k_neighbours == tok.model.config.encoder.k
    no_config = torch.nn.Module()
    no_config.quantizer = tok.model.quantizer
    with pytest.raises(ProtokError, match=r"<bare>: model has no config\.encoder\.k"):
        Tokenizer(no_config, name="<bare>")


def test_card_is_the_one_saved_with_the_checkpoint(tok):
    from protok.models import ModelConfig, ProtokModel
    from protok.tokenizer import Tokenizer

    assert tok.card["name"] == "test model" and "codebook from real residue" in tok.card["note"]
    assert Tokenizer(ProtokModel(ModelConfig.preset("small")), name="<memory>").card == {}
