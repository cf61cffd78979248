"""Vocabulary ids, the compact text form, SaProt-style interleaving and LM batches (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from protok.errors import ChainTooLongError
from protok.tokenizer import (
    SPECIAL_TOKENS,
    Vocabulary,
    collate,
    deinterleave,
    deinterleave_text,
    from_text,
    interleave,
    interleave_text,
    join_chains,
    pair_vocab_size,
    to_text,
)

V = Vocabulary(512)


def test_special_ids_follow_esm3_order_right_after_codebook():
    # ESM3: MASK 4096, EOS 4097, BOS 4098, PAD 4099, CHAINBREAK 4100 for K = 4096
    v = Vocabulary(4096)
    assert (v.mask, v.eos, v.bos, v.pad, v.chainbreak) == (4096, 4097, 4098, 4099, 4100)
    assert v.missing == 4101 and v.size == 4102
    assert list(v.special_ids) == list(SPECIAL_TOKENS)
    assert v.special_id("pad") == v.pad
    with pytest.raises(KeyError):
        v.special_id("UNK")


def test_is_code_and_validate():
    toks = np.array([0, 511, V.mask, V.missing])
    assert V.is_code(toks).tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        V.validate(np.array([0, V.size]))
    with pytest.raises(ValueError):
        V.validate(np.array([-1]))
    with pytest.raises(ValueError):
        Vocabulary(0)


def test_to_dict_lists_every_special():
    d = V.to_dict()
    assert d["codebook_size"] == 512 and d["size"] == 518
    assert d["special_tokens"]["CHAINBREAK"] == {"id": 516, "text": "|"}


def test_text_example():
    toks = np.array([17, 402, V.missing, 3, V.chainbreak, 88, V.bos, V.eos, V.pad, V.mask])
    text = to_text(toks, V)
    assert text == "17 402 # 3 | 88 <bos> <eos> <pad> <mask>"
    np.testing.assert_array_equal(from_text(text, V), toks)
    assert to_text(np.zeros(0, dtype=np.int64), V) == ""
    assert from_text("", V).shape == (0,)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=V.size - 1), max_size=200))
def test_text_round_trip(ids):
    toks = np.asarray(ids, dtype=np.int64)
    np.testing.assert_array_equal(from_text(to_text(toks, V), V), toks)


@pytest.mark.parametrize("bad", ["12 x", "512", "-1", "<unk>"])
def test_from_text_rejects(bad):
    with pytest.raises(ValueError):
        from_text(bad, V)


def test_interleave_pairs_and_text():
    seq = "MAG"
    toks = np.array([17, 402, V.missing])
    pairs = interleave(seq, toks, V)
    k1 = V.codebook_size + 1
    # M is index 10 in ACDEFGHIKLMNPQRSTVWY, A 0, G 5; '#' is s = K
    assert pairs.tolist() == [10 * k1 + 17, 0 * k1 + 402, 5 * k1 + 512]
    assert pairs.max() < pair_vocab_size(V)
    s, t = deinterleave(pairs, V)
    assert s == seq and t.tolist() == toks.tolist()
    text = interleave_text(seq, toks, V)
    assert text == "M17 A402 G#"
    s2, t2 = deinterleave_text(text, V)
    assert s2 == seq and t2.tolist() == toks.tolist()


def test_interleave_rejects_mismatch_and_specials():
    with pytest.raises(ValueError, match="length"):
        interleave("MA", np.array([1]), V)
    with pytest.raises(ValueError, match="CHAINBREAK"):
        interleave("MA", np.array([1, V.chainbreak]), V)
    with pytest.raises(ValueError):
        deinterleave_text("M600", V)


def test_join_chains_inserts_explicit_breaks():
    out = join_chains([np.array([1, 2]), np.array([3]), np.array([4, 5])], V)
    assert out.tolist() == [1, 2, V.chainbreak, 3, V.chainbreak, 4, 5]
    assert join_chains([], V).shape == (0,)


def test_collate_pads_and_masks():
    b = collate([np.array([1, 2, 3]), np.array([7])], V, pad_to_multiple_of=8)
    assert b.input_ids.shape == (2, 8) and b.input_ids.dtype == torch.long
    assert b.input_ids[0, :5].tolist() == [V.bos, 1, 2, 3, V.eos]
    assert b.input_ids[1, :3].tolist() == [V.bos, 7, V.eos]
    assert (b.input_ids[1, 3:] == V.pad).all()
    assert b.attention_mask.sum(1).tolist() == [5, 3] == b.lengths.tolist()
    plain = collate([np.array([1, 2])], V, add_bos_eos=False)
    assert plain.input_ids.tolist() == [[1, 2]]


def test_collate_never_truncates():
    with pytest.raises(ChainTooLongError, match="max_length=4"):
        collate([np.arange(10)], V, max_length=4)


def test_aa_alphabet_matches_graph():
    from protok.graph import AA_ALPHABET as GRAPH_AA
    from protok.tokenizer import AA_ALPHABET

    assert AA_ALPHABET == GRAPH_AA


def test_pair_vocabulary_specials_follow_the_pair_ids():
    pv = V.pairs
    n_pairs = pair_vocab_size(V)
    assert pv.regular == n_pairs == 21 * 513
    assert list(pv.special_ids) == ["MASK", "EOS", "BOS", "PAD", "CHAINBREAK"]
    assert list(pv.special_ids.values()) == list(range(n_pairs, n_pairs + 5))
    assert (pv.mask, pv.eos, pv.bos, pv.pad, pv.chainbreak) == tuple(range(n_pairs, n_pairs + 5))
    assert pv.size == n_pairs + 5
    d = pv.to_dict()
    assert d["pairs"] == [0, n_pairs - 1] and d["special_tokens"]["PAD"]["id"] == pv.pad
    # the structure vocabulary is unchanged
    assert (V.mask, V.pad, V.missing, V.size) == (512, 515, 517, 518)
