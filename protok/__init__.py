"""protok: protein structure tokenizer toolkit.

Structures in (PDB / mmCIF / BinaryCIF, gzip too), discrete per-residue structure tokens out, and back::

    import protok
    tok = protok.load()                       # the shipped default model, offline
    [chain] = tok.encode("structures/1ubi.pdb")
    chain.tokens                              # numpy int64, one token per residue
    backbone = tok.decode(chain)              # ProteinChain, writable as PDB / mmCIF

Heavy modules (torch, e3nn) are imported on first use, so ``import protok`` and ``protok --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protok._lazy import lazy_attributes

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first attribute access)
_LAZY: dict[str, str] = {
    "load": "protok.tokenizer",
    "Tokenizer": "protok.tokenizer",
    "TokenizedChain": "protok.tokenizer",
    "Vocabulary": "protok.tokenizer",
    "read_structure": "protok.structures",
    "read_chain": "protok.structures",
    "write_structure": "protok.structures",
    "ProteinChain": "protok.structures",
    "ProteinComplex": "protok.structures",
    "build_graph": "protok.graph",
    "ProtokModel": "protok.models",
    "ModelConfig": "protok.models",
    "load_model": "protok.models",
    "save_model": "protok.models",
    "train": "protok.training",
}

__all__ = [
    "__version__",
    "load",
    "Tokenizer",
    "TokenizedChain",
    "Vocabulary",
    "read_structure",
    "read_chain",
    "write_structure",
    "ProteinChain",
    "ProteinComplex",
    "build_graph",
    "ProtokModel",
    "ModelConfig",
    "load_model",
    "save_model",
    "train",
]
assert set(__all__) == {"__version__", *_LAZY}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from protok.graph import build_graph
    from protok.models import ModelConfig, ProtokModel, load_model, save_model
    from protok.structures import ProteinChain, ProteinComplex, read_chain, read_structure, write_structure
    from protok.tokenizer import TokenizedChain, Tokenizer, Vocabulary, load
    from protok.training import train


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
