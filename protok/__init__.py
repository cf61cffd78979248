"""protok: protein structure tokenizer toolkit.

Structures in (PDB / mmCIF / BinaryCIF, gzip too), discrete per-residue structure tokens out, and back.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
