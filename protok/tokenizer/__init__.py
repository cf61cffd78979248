"""The tokenizer API: ``load`` a model, ``encode`` structures to tokens, ``decode`` tokens to backbones.

Also the token vocabulary (codes then fixed special ids), the compact text form, SaProt-style
interleaving, LM-ready batches, token files and the batch runner behind ``protok tokenize``.
"""

from protok.tokenizer.api import MIN_ROWS, Featurized, Tokenizer, entry_id, featurize, load
from protok.tokenizer.lm import (
    AA_ALPHABET,
    LMBatch,
    collate,
    deinterleave,
    deinterleave_text,
    interleave,
    interleave_text,
    join_chains,
    pair_vocab_size,
)
from protok.tokenizer.result import TokenizedChain, format_residue_ids, parse_residue_ids
from protok.tokenizer.text import from_text, to_text
from protok.tokenizer.tokenfile import RECORD_FIELDS, read_records, write_records
from protok.tokenizer.vocab import SPECIAL_TEXT, SPECIAL_TOKENS, Vocabulary

__all__ = [
    "AA_ALPHABET",
    "Featurized",
    "LMBatch",
    "MIN_ROWS",
    "RECORD_FIELDS",
    "SPECIAL_TEXT",
    "SPECIAL_TOKENS",
    "TokenizedChain",
    "Tokenizer",
    "Vocabulary",
    "collate",
    "deinterleave",
    "deinterleave_text",
    "entry_id",
    "featurize",
    "format_residue_ids",
    "from_text",
    "interleave",
    "interleave_text",
    "join_chains",
    "load",
    "pair_vocab_size",
    "parse_residue_ids",
    "read_records",
    "to_text",
    "write_records",
]
