"""Public entry points: :func:`read_structure` and :func:`read_chain`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from biotite.structure import AtomArray, AtomArrayStack

from protok.errors import ChainNotFoundError
from protok.structures.chain import ProteinChain, ProteinComplex
from protok.structures.convert import atoms_to_complex
from protok.structures.formats import load_atoms, read_source, select_model

__all__ = ["read_chain", "read_structure"]


@overload
def read_structure(
    source: Any, *, chains: str | Sequence[str] | None = ..., model: int = ..., fmt: str | None = ...
) -> ProteinComplex: ...


@overload
def read_structure(
    source: Any, *, chains: str | Sequence[str] | None = ..., model: Literal["all"], fmt: str | None = ...
) -> list[ProteinComplex]: ...


@overload
def read_structure(
    source: Any,
    *,
    chains: str | Sequence[str] | None = ...,
    model: int | Literal["all"],
    fmt: str | None = ...,
) -> ProteinComplex | list[ProteinComplex]: ...


def read_structure(
    source: Any,
    *,
    chains: str | Sequence[str] | None = None,
    model: int | Literal["all"] = 1,
    fmt: str | None = None,
) -> ProteinComplex | list[ProteinComplex]:
    """Read a protein structure into protok's frozen types.

    Parameters
    ----------
    source : str, os.PathLike, bytes, file object, AtomArray or AtomArrayStack
        PDB, mmCIF or BinaryCIF, each optionally gzip-compressed (detected from the content; the extension
        only breaks ties), or an in-memory biotite structure.
    chains : str or sequence of str, optional
        Author chain ids to keep (``"A"``, ``"A,B"`` or ``["A", "B"]``). Default: every protein chain.
    model : int or "all"
        1-based model number (default the first), or ``"all"`` for a list with one complex per model.
    fmt : str, optional
        Force ``"pdb"``, ``"cif"`` or ``"bcif"`` instead of detecting it.

    Returns
    -------
    ProteinComplex, or list of ProteinComplex when ``model="all"``

    Raises
    ------
    protok.errors.StructureError
        Subclasses name the source and reason: ``EmptyStructureError``, ``UnknownFormatError``,
        ``CorruptStructureError``, ``NoProteinChainError``, ``ChainNotFoundError``,
        ``StructureModelNotFoundError``.

    Examples
    --------
    >>> cx = read_structure("structures/1ubi.pdb")          # doctest: +SKIP
    >>> cx.chain_ids, len(cx.chains[0]), cx.waters           # doctest: +SKIP
    (('A',), 76, 81)
    """
    if isinstance(source, (AtomArray, AtomArrayStack)):
        name = "<AtomArray>" if isinstance(source, AtomArray) else "<AtomArrayStack>"
        pairs = select_model(source, model, name)
    else:
        raw = read_source(source, fmt)
        name = raw.name
        pairs = load_atoms(raw, model)
    out = [atoms_to_complex(atoms, source=name, model=m, chains=chains) for m, atoms in pairs]
    return out if model == "all" else out[0]


def read_chain(
    source: Any,
    chain: str | None = None,
    *,
    model: int = 1,
    fmt: str | None = None,
) -> ProteinChain:
    """Read one protein chain.

    Parameters
    ----------
    source
        As for :func:`read_structure`.
    chain : str, optional
        Author chain id; default: the file must hold exactly one protein chain.
    model : int
        1-based model number.
    fmt : str, optional
        Force the format.

    Returns
    -------
    ProteinChain

    Raises
    ------
    ChainNotFoundError
        ``chain`` does not exist, or ``chain`` is None and the file has several protein chains.
    """
    cx = read_structure(source, chains=chain, model=model, fmt=fmt)
    if chain is None and len(cx.chains) != 1:
        raise ChainNotFoundError(
            cx.source, f"{len(cx.chains)} protein chains ({', '.join(cx.chain_ids)}); pass chain= to pick one"
        )
    return cx.chains[0]
