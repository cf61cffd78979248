"""The tokenizer API: ``load`` a model, ``encode`` structures to tokens, ``decode`` tokens to backbones.

Also the token vocabulary (codes then fixed special ids), the compact text form, SaProt-style
interleaving, LM-ready batches, token files and the batch runner behind ``protok tokenize``.

Names are imported on first use, so the light modules (inputs, token files, vocabulary, the worker pool)
can be used without importing torch: ``protok tokenize`` starts its worker processes before it imports
torch itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protok._lazy import lazy_attributes

# public name -> module that defines it (imported lazily on first attribute access)
_LAZY: dict[str, str] = {
    "MIN_ROWS": "protok.tokenizer.api",
    "Featurized": "protok.tokenizer.api",
    "Tokenizer": "protok.tokenizer.api",
    "entry_id": "protok.tokenizer.api",
    "featurize": "protok.tokenizer.api",
    "load": "protok.tokenizer.api",
    "AA_ALPHABET": "protok.tokenizer.lm",
    "LMBatch": "protok.tokenizer.lm",
    "collate": "protok.tokenizer.lm",
    "deinterleave": "protok.tokenizer.lm",
    "deinterleave_text": "protok.tokenizer.lm",
    "interleave": "protok.tokenizer.lm",
    "interleave_text": "protok.tokenizer.lm",
    "join_chains": "protok.tokenizer.lm",
    "pair_vocab_size": "protok.tokenizer.lm",
    "EncodedBatch": "protok.tokenizer.result",
    "FailedInput": "protok.tokenizer.store",
    "TokenizedChain": "protok.tokenizer.result",
    "format_residue_ids": "protok.tokenizer.result",
    "parse_residue_ids": "protok.tokenizer.result",
    "from_text": "protok.tokenizer.text",
    "to_text": "protok.tokenizer.text",
    "RECORD_FIELDS": "protok.tokenizer.tokenfile",
    "read_records": "protok.tokenizer.tokenfile",
    "write_records": "protok.tokenizer.tokenfile",
    "SPECIAL_TEXT": "protok.tokenizer.vocab",
    "PAIR_SPECIAL_TOKENS": "protok.tokenizer.vocab",
    "PairVocabulary": "protok.tokenizer.vocab",
    "SPECIAL_TOKENS": "protok.tokenizer.vocab",
    "Vocabulary": "protok.tokenizer.vocab",
}

__all__ = [
    "AA_ALPHABET",
    "EncodedBatch",
    "FailedInput",
    "Featurized",
    "LMBatch",
    "MIN_ROWS",
    "PAIR_SPECIAL_TOKENS",
    "PairVocabulary",
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
assert set(__all__) == set(_LAZY)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
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
    from protok.tokenizer.result import EncodedBatch, TokenizedChain, format_residue_ids, parse_residue_ids
    from protok.tokenizer.store import FailedInput
    from protok.tokenizer.text import from_text, to_text
    from protok.tokenizer.tokenfile import RECORD_FIELDS, read_records, write_records
    from protok.tokenizer.vocab import (
        PAIR_SPECIAL_TOKENS,
        SPECIAL_TEXT,
        SPECIAL_TOKENS,
        PairVocabulary,
        Vocabulary,
    )


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
