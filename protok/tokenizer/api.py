"""The tokenizer Python API: ``protok.load(...)`` -> :class:`Tokenizer` -> ``encode`` / ``embed`` / ``decode``.

Chains are always tokenized one by one (each chain is its own residue graph, so a chain's tokens never
depend on the other chains of its complex or of its batch); multi-chain inputs give one
:class:`TokenizedChain` per chain and :func:`protok.tokenizer.lm.join_chains` makes chain breaks explicit.

Batch invariance. ``encode_batch`` packs many chains into one encoder call. The encoder sums messages in a
fixed order per residue, and dense layers give each row the same bits whatever the number of rows once that
number is not tiny (BLAS switches to matrix-vector kernels for a handful of rows). Every encoder call
therefore carries at least :data:`MIN_ROWS` residues: small batches are padded with repeated copies of
their own chains, whose outputs are dropped. One-at-a-time and batched encoding run the same code path, so
tokens are bit-identical whatever the batch composition or thread count (tested).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from protok.errors import ProtokError, failure_reason
from protok.structures.chain import ProteinChain, ProteinComplex
from protok.structures.idealize import idealize_backbone
from protok.tokenizer.inputs import entry_id, record_ids
from protok.tokenizer.result import EncodedBatch, TokenizedChain
from protok.tokenizer.store import FailedInput
from protok.tokenizer.text import from_text
from protok.tokenizer.vocab import Vocabulary

__all__ = [
    "CPU_BATCH_RESIDUES",
    "DECODE_PAIR_BUDGET",
    "GPU_BATCH_RESIDUES",
    "MIN_ROWS",
    "Featurized",
    "Tokenizer",
    "entry_id",
    "featurize",
    "load",
]

log = logging.getLogger(__name__)

#: Minimum residues per encoder call (see the module docstring on batch invariance).
MIN_ROWS: int = 64
#: Default residues per encoder call on a CPU: the per-residue cost is lowest near 2,048 (the edge tensors
#: stay in cache) and about twice as high at 32,768 (``benchmarks/encoder_speed.py --batch-residues``).
CPU_BATCH_RESIDUES: int = 2048
#: Default residues per encoder call on a GPU.
GPU_BATCH_RESIDUES: int = 32768
#: Most chains x (longest chain)^2 per decoder call: the decoder holds (chains, heads, L, L) attention
#: biases, so this bounds its memory (about 200 MB here) whatever the mix of lengths.
DECODE_PAIR_BUDGET: int = 2**18


@dataclass(frozen=True, eq=False)
class Featurized:
    """A chain and its residue graph, ready for the encoder (what parse workers hand to the encoder).

    ``graph`` holds the fields the encoder reads (:data:`protok.graph.ENCODER_FIELDS`) and ``num_nodes``;
    :class:`protok.graph.GraphBatch` batches them (the full ``torch_geometric`` ``Data`` with every graph
    field is :func:`protok.graph.build_graph`'s, for training).
    """

    chain: ProteinChain
    graph: dict[str, Any]
    id: str

    # Pickling (the hand-over from parse workers) sends the graph's tensors as numpy arrays: several times
    # cheaper than torch's own tensor pickling for a graph's small tensors (tensors share memory with the
    # arrays on both sides, so nothing is copied twice).
    def __getstate__(self) -> dict[str, Any]:
        fields = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in self.graph.items()}
        return {"chain": self.chain, "graph": fields, "id": self.id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        graph = {
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in state["graph"].items()
        }
        object.__setattr__(self, "chain", state["chain"])
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "id", state["id"])


def featurize(chain: ProteinChain, k: int, id: str | None = None) -> Featurized:
    """Build the residue graph of one chain with ``k`` neighbours per residue (the model's
    ``config.encoder.k``; :meth:`Tokenizer.featurize` passes it). CPU work, safe in a worker process."""
    from protok.graph import ENCODER_FIELDS, graph_fields

    fields = graph_fields(chain, k=k)
    graph = {name: fields[name] for name in (*ENCODER_FIELDS, "num_nodes")}
    return Featurized(chain=chain, graph=graph, id=id or entry_id(chain.source))


def _as_chains(source: Any, chains: Sequence[str] | str | None, model: int | None) -> list[ProteinChain]:
    """Any accepted input -> list of ProteinChain (reading files with :func:`protok.structures.read_structure`)."""
    if isinstance(chains, str):
        chains = [c for c in chains.split(",") if c]
    if isinstance(source, ProteinChain):
        items: list[ProteinChain] = [source]
    elif isinstance(source, ProteinComplex):
        items = list(source.chains)
    else:
        from protok.structures import read_structure

        kwargs: dict[str, Any] = {}
        if chains:
            kwargs["chains"] = list(chains)
        if model is not None:
            kwargs["model"] = model
        return list(read_structure(source, **kwargs).chains)
    if chains:
        have = {c.auth_chain_id: c for c in items}
        missing = [c for c in chains if c not in have]
        if missing:
            from protok.errors import ChainNotFoundError

            src = items[0].source if items else "<memory>"
            raise ChainNotFoundError(src, f"no protein chain {missing[0]!r} (chains: {', '.join(have)})")
        items = [have[c] for c in chains]
    return items


def _describe(source: Any) -> Any:
    """A path stays a path; chains/complexes give their ``source``; anything else a short ``<type>`` label."""
    if isinstance(source, (str, os.PathLike)):
        return source
    if isinstance(source, (ProteinChain, ProteinComplex)):
        return source.source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else f"<{type(source).__name__}>"


def _graph_neighbours(model: torch.nn.Module, name: str) -> int:
    """Neighbours per residue in the model's residue graphs: ``model.config.encoder.k``."""
    k = getattr(getattr(getattr(model, "config", None), "encoder", None), "k", None)
    if not isinstance(k, int):
        raise ProtokError(f"{name}: model has no config.encoder.k (neighbours per residue)")
    return k


class Tokenizer:
    """A protok structure tokenizer around a trained :class:`protok.models.ProtokModel`.

    Parameters
    ----------
    model : ProtokModel
        The model (set to eval mode here).
    device : str or torch.device
        Where the encoder and decoder run (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
    batch_size : int
        Most chains per encoder call.
    max_batch_residues : int, optional
        Most residues per encoder call (a longer single chain still runs alone: nothing is truncated).
        Default: :data:`CPU_BATCH_RESIDUES` on a CPU, where small batches stay in cache (measured fastest
        by ``benchmarks/encoder_speed.py``), :data:`GPU_BATCH_RESIDUES` on a GPU.
    name : str
        Model name or path, for reports.

    Examples
    --------
    >>> tok = protok.load()                                # doctest: +SKIP
    >>> [r.tokens[:5] for r in tok.encode("1abc.cif")]     # doctest: +SKIP
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        max_batch_residues: int | None = None,
        name: str = "<model>",
    ) -> None:
        self.device = torch.device(device)
        self.model: Any = model.to(self.device).eval()
        self.batch_size = int(batch_size)
        if max_batch_residues is None:
            max_batch_residues = CPU_BATCH_RESIDUES if self.device.type == "cpu" else GPU_BATCH_RESIDUES
        self.max_batch_residues = int(max_batch_residues)
        self.name = name
        codebook_size = getattr(getattr(model, "quantizer", None), "codebook_size", None)
        if codebook_size is None:
            raise ProtokError(f"{name}: model has no quantizer.codebook_size")
        self.vocab = Vocabulary(int(codebook_size))
        self.k_neighbours = _graph_neighbours(model, name)

    def __repr__(self) -> str:
        return f"Tokenizer(name={self.name!r}, codebook_size={self.vocab.codebook_size}, device={str(self.device)!r})"

    # ------------------------------------------------------------------ model card
    @property
    def card(self) -> dict[str, Any]:
        """The model card saved with the checkpoint (``model.card``, set by
        :func:`protok.models.load_model`), or an empty dict for a model built in memory."""
        card = getattr(self.model, "card", None)
        return dict(card) if isinstance(card, dict) else {}

    # ------------------------------------------------------------------ featurize / encode
    def featurize(self, chain: ProteinChain, id: str | None = None) -> Featurized:
        """Build the residue graph of one chain with this model's neighbour count."""
        return featurize(chain, self.k_neighbours, id)

    def _batches(self, items: Sequence[Featurized]) -> Iterator[list[int]]:
        """Index groups of at most ``batch_size`` chains / ``max_batch_residues`` residues, longest first."""
        order = sorted(range(len(items)), key=lambda i: -len(items[i].chain))
        group: list[int] = []
        n_res = 0
        for i in order:
            n = len(items[i].chain)
            if group and (len(group) >= self.batch_size or n_res + n > self.max_batch_residues):
                yield group
                group, n_res = [], 0
            group.append(i)
            n_res += n
        if group:
            yield group

    @torch.inference_mode()
    def _run(self, graphs: list[Any], what: str) -> list[torch.Tensor]:
        """One encoder call over ``graphs`` (padded to MIN_ROWS residues); per-graph outputs on the CPU."""
        from protok.graph import GraphBatch

        sizes = [int(g["num_nodes"]) for g in graphs]
        padded = list(graphs)
        total = sum(sizes)
        j = 0
        while total < MIN_ROWS and total > 0:
            padded.append(graphs[j % len(graphs)])
            total += sizes[j % len(graphs)]
            j += 1
        batch = GraphBatch.from_graphs(padded).to(self.device)
        out = self.model.encode(batch) if what == "encode" else self.model.embed(batch)
        out = out.detach().to("cpu")
        return list(torch.split(out[: sum(sizes)], sizes))

    def encode_featurized(self, items: Sequence[Featurized]) -> list[TokenizedChain]:
        """Encode already featurized chains in batches; results in input order."""
        results: list[TokenizedChain | None] = [None] * len(items)
        for group in self._batches(items):
            nonempty = [i for i in group if len(items[i].chain) > 0]
            outs = self._run([items[i].graph for i in nonempty], "encode") if nonempty else []
            for i, idx in zip(nonempty, outs):
                results[i] = self._result(items[i], idx.numpy())
            for i in group:
                if results[i] is None:
                    results[i] = self._result(items[i], np.zeros(0, dtype=np.int64))
        return [r for r in results if r is not None]

    def _result(self, item: Featurized, idx: np.ndarray) -> TokenizedChain:
        chain = item.chain
        idx = np.asarray(idx, dtype=np.int64)
        if idx.shape != (len(chain),):
            raise ProtokError(
                f"{chain.source}: encoder returned {idx.shape} indices for {len(chain)} residues"
            )
        mask = idx >= 0
        tokens = np.where(mask, idx, self.vocab.missing).astype(np.int64)
        return TokenizedChain(
            tokens=tokens,
            mask=mask,
            chain_id=chain.auth_chain_id,
            res_ids=np.asarray(chain.res_ids),
            ins_codes=np.asarray(chain.ins_codes),
            sequence=chain.sequence,
            chain_breaks=np.asarray(chain.chain_breaks),
            source=chain.source,
            id=item.id,
        )

    def encode_chains(
        self, chains: Sequence[ProteinChain], ids: Sequence[str] | None = None
    ) -> list[TokenizedChain]:
        """Encode protok chains in batches; one result per chain, in order."""
        ids = list(ids) if ids is not None else [entry_id(c.source) for c in chains]
        return self.encode_featurized([self.featurize(c, i) for c, i in zip(chains, ids)])

    def encode(
        self, source: Any, chains: Sequence[str] | str | None = None, model: int | None = None
    ) -> list[TokenizedChain]:
        """Tokenize every protein chain of one structure.

        Parameters
        ----------
        source : path, bytes, file object, biotite AtomArray, ProteinChain or ProteinComplex
            The structure (PDB / mmCIF / BinaryCIF, gzip too, for paths and bytes).
        chains : sequence of str or str, optional
            Author chain ids to keep (``"A,B"`` or ``["A", "B"]``); default all protein chains.
        model : int, optional
            1-based model number of a multi-model file (default: the first).

        Returns
        -------
        list of TokenizedChain
            One per chain, in file order.
        """
        return self.encode_batch([source], chains=chains, model=model)[0]

    def encode_batch(
        self,
        sources: Iterable[Any],
        chains: Sequence[str] | str | None = None,
        model: int | None = None,
        *,
        errors: Literal["raise", "skip"] = "raise",
    ) -> EncodedBatch:
        """Tokenize many structures, packing their chains into shared encoder calls.

        Tokens are bit-identical to ``[self.encode(s) for s in sources]`` whatever the batch composition.
        Chains are named as :func:`protok.tokenizer.inputs.record_ids` names a run's files (unique ids).

        Parameters
        ----------
        sources : iterable
            Anything :meth:`encode` accepts, one structure each.
        chains, model
            As for :meth:`encode`, applied to every source.
        errors : {"raise", "skip"}
            ``"raise"`` (default): the first input that cannot be read or encoded raises its typed error.
            ``"skip"``: such inputs are left out of the result and listed in ``result.failures``
            (``FailedInput(source, reason)``, also logged as a warning); the others are returned.

        Returns
        -------
        EncodedBatch
            A list: ``out[i]`` holds the chains of the i-th source (of the i-th source that did not fail,
            with ``errors="skip"``); ``out.failures`` lists the inputs left out.
        """
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        sources = list(sources)
        names = [_describe(s) for s in sources]
        ids = record_ids([os.fspath(n) for n in names if isinstance(n, (str, os.PathLike))])
        groups: list[list[Featurized]] = []
        kept: list[Any] = []
        failures: list[FailedInput] = []
        for src, name in zip(sources, names):
            sid = ids[os.fspath(name)] if isinstance(name, (str, os.PathLike)) else entry_id(name)
            try:
                groups.append([self.featurize(c, sid) for c in _as_chains(src, chains, model)])
            except Exception as exc:  # noqa: BLE001 - recorded below (skip) or raised again
                if errors == "raise":
                    raise
                failures.append(FailedInput(str(name), failure_reason(exc, name)))
                continue
            kept.append(name)
        if errors == "raise":
            results = iter(self.encode_featurized([f for g in groups for f in g]))
            return EncodedBatch([[next(results) for _ in g] for g in groups])
        out = []
        for name, encoded in zip(kept, self.encode_groups(groups)):
            if isinstance(encoded, Exception):
                failures.append(FailedInput(str(name), failure_reason(encoded, name)))
            else:
                out.append(encoded)
        order = {str(n): i for i, n in enumerate(names)}
        failures.sort(key=lambda f: order.get(f.source, 0))
        for f in failures:
            log.warning("skipped %s: %s", f.source, f.reason)
        return EncodedBatch(out, failures)

    def encode_groups(self, groups: Sequence[Sequence[Featurized]]) -> list[list[TokenizedChain] | Exception]:
        """Encode groups of featurized chains (one group per input) in shared encoder calls.

        Should the encoder fail on them all together (a chain too large for memory, say), each group is
        encoded alone, so the failure is returned in place of the group that causes it and the others
        still get their tokens.

        Returns
        -------
        list
            Per group: its chains' results, or the exception encoding it raised.
        """
        try:
            results = iter(self.encode_featurized([f for g in groups for f in g]))
            return [[next(results) for _ in g] for g in groups]
        except Exception:  # noqa: BLE001 - isolate the group below
            pass
        out: list[list[TokenizedChain] | Exception] = []
        for g in groups:
            try:
                out.append(self.encode_featurized(g))
            except Exception as exc:  # noqa: BLE001 - returned to the caller, which records it
                out.append(exc)
        return out

    def embed(
        self, source: Any, chains: Sequence[str] | str | None = None, model: int | None = None
    ) -> list[np.ndarray]:
        """Continuous pre-quantization vectors, one array per chain (same order as :meth:`encode`).

        Returns
        -------
        list of ndarray, each shape=(L, D), dtype=float32
            Rows of residues without a backbone frame are whatever the model returns for masked rows.
        """
        items = [self.featurize(c) for c in _as_chains(source, chains, model)]
        out: list[np.ndarray | None] = [None] * len(items)
        for group in self._batches(items):
            for i, z in zip(group, self._run([items[i].graph for i in group], "embed")):
                out[i] = z.float().numpy()
        return [o for o in out if o is not None]

    # ------------------------------------------------------------------ decode
    def decode(self, tokens: Any, *, idealize: bool = True) -> ProteinChain | ProteinComplex:
        """Decode structure tokens back into a backbone (N, CA, C, O).

        Parameters
        ----------
        tokens : TokenizedChain, sequence of TokenizedChain, ndarray / tensor / list of ids, or text
            One chain's tokens, several chains, or one id sequence in which CHAINBREAK separates chains
            (text form accepted, see :mod:`protok.tokenizer.text`). MISSING / MASK positions decode to
            residues without atoms (``atom_mask`` False).
        idealize : bool
            Rebuild the decoder's backbone as the nearest chain of ideal trans peptides
            (:func:`protok.structures.idealize_backbone`: bonded CA-CA 3.80 Å, ideal peptide bonds, CA
            clashes pushed apart); False returns the decoder's atoms as they are.

        Returns
        -------
        ProteinChain or ProteinComplex
            A chain for one chain, a complex (chains ``A``, ``B``, ...) for several; writable with
            :func:`protok.structures.write_structure` as PDB or mmCIF.
        """
        if isinstance(tokens, TokenizedChain):
            return self.decode_batch([tokens], idealize=idealize)[0]
        if isinstance(tokens, str):
            tokens = from_text(tokens, self.vocab)
        if isinstance(tokens, (list, tuple)) and tokens and isinstance(tokens[0], TokenizedChain):
            return ProteinComplex(
                chains=tuple(self.decode_batch(tokens, idealize=idealize)), source="<decoded>"
            )
        arr = self.vocab.validate(
            tokens.cpu().numpy() if isinstance(tokens, torch.Tensor) else np.asarray(tokens)
        )
        arr = arr[~np.isin(arr, [self.vocab.bos, self.vocab.eos, self.vocab.pad])]
        cuts = np.flatnonzero(arr == self.vocab.chainbreak)
        pieces = np.split(arr, cuts)
        pieces = [p[1:] if i else p for i, p in enumerate(pieces)]
        out = self.decode_batch(
            [self._bare(p, _chain_name(i)) for i, p in enumerate(pieces)], idealize=idealize
        )
        return out[0] if len(out) == 1 else ProteinComplex(chains=tuple(out), source="<decoded>")

    def decode_batch(self, chains: Sequence[TokenizedChain], *, idealize: bool = True) -> list[ProteinChain]:
        """Decode many chains, each on its own, several per decoder call.

        Each chain is decoded alone (its own frame, residues numbered from 0), as one at a time with
        :meth:`decode`; chains of similar length share a decoder call, padded to the longest. The
        coordinates equal one-at-a-time decoding up to float rounding (tested to 1e-3 Å). ``idealize``
        as in :meth:`decode`.

        Returns
        -------
        list of ProteinChain
            One per input chain, in order.
        """
        out: list[ProteinChain | None] = [None] * len(chains)
        for group in self._decode_groups(chains):
            coords = self._decode_many([(chains[i].tokens, chains[i].chain_breaks) for i in group])
            for i, xyz in zip(group, coords):
                if idealize:
                    xyz = idealize_backbone(xyz, chains[i].chain_breaks)
                out[i] = self._as_backbone(chains[i], xyz)
        return [c for c in out if c is not None]

    def _decode_groups(self, chains: Sequence[TokenizedChain]) -> Iterator[list[int]]:
        """Index groups of chains per decoder call: longest first, at most ``batch_size`` chains and
        :data:`DECODE_PAIR_BUDGET` chains x longest^2 (a longer single chain still runs alone)."""
        order = sorted(range(len(chains)), key=lambda i: -len(chains[i]))
        group: list[int] = []
        for i in order:
            longest = len(chains[group[0]]) if group else len(chains[i])
            if group and (
                len(group) >= self.batch_size or (len(group) + 1) * longest**2 > DECODE_PAIR_BUDGET
            ):
                yield group
                group = []
            group.append(i)
        if group:
            yield group

    def _bare(self, tokens: np.ndarray, chain_id: str) -> TokenizedChain:
        n = len(tokens)
        return TokenizedChain(
            tokens=tokens,
            mask=self.vocab.is_code(tokens),
            chain_id=chain_id,
            res_ids=np.arange(1, n + 1, dtype=np.int32),
            ins_codes=np.full(n, "", dtype="<U1"),
            sequence="X" * n,
            chain_breaks=np.zeros(n, dtype=bool),
            source="<decoded>",
            id="<decoded>",
        )

    def decode_coords(
        self, tokens: np.ndarray, chain_breaks: np.ndarray | None = None, *, idealize: bool = True
    ) -> np.ndarray:
        """Backbone coordinates of one chain's tokens.

        Parameters
        ----------
        tokens : ndarray, shape=(L,), dtype=int
            Codes, or MISSING / MASK for residues to leave empty.
        chain_breaks : ndarray, shape=(L,), dtype=bool, optional
            Breaks inside the chain (gaps), passed to the decoder.
        idealize : bool
            As in :meth:`decode`.

        Returns
        -------
        ndarray, shape=(L, 4, 3), dtype=float32
            NaN where the token is not a code.
        """
        xyz = self._decode_many([(tokens, chain_breaks)])[0]
        return idealize_backbone(xyz, chain_breaks) if idealize else xyz

    @torch.inference_mode()
    def _decode_many(self, items: Sequence[tuple[np.ndarray, np.ndarray | None]]) -> list[np.ndarray]:
        """One decoder call over several chains' ``(tokens, chain_breaks)``; ``(L, 4, 3)`` arrays, NaN
        where a token is not a code."""
        toks = [self.vocab.validate(t) for t, _ in items]
        sizes = [len(t) for t in toks]
        out = [np.zeros((0, 4, 3), dtype=np.float32) for _ in toks]
        live = [j for j, n in enumerate(sizes) if n > 0]
        if not live:
            return out
        tok = np.concatenate([toks[j] for j in live])
        is_code = self.vocab.is_code(tok)
        brk = np.concatenate(
            [
                np.zeros(sizes[j], dtype=bool) if items[j][1] is None else np.asarray(items[j][1], bool)
                for j in live
            ]
        )
        dev = self.device
        idx = torch.from_numpy(np.where(is_code, tok, -1)).to(dev)  # -1: the model's "no code" input
        residue_idx = torch.cat([torch.arange(sizes[j]) for j in live]).to(dev)
        batch = torch.cat([torch.full((sizes[j],), i, dtype=torch.long) for i, j in enumerate(live)]).to(dev)
        coords = self.model.decode(
            idx, residue_idx, torch.zeros_like(residue_idx), torch.from_numpy(brk).to(dev), batch
        )
        xyz = coords.detach().float().cpu().numpy().reshape(-1, 4, 3).copy()
        xyz[~is_code] = np.nan
        for j, part in zip(live, np.split(xyz, np.cumsum([sizes[j] for j in live])[:-1])):
            out[j] = part
        return out

    def _as_backbone(self, t: TokenizedChain, coords: np.ndarray) -> ProteinChain:
        mask = np.repeat(self.vocab.is_code(t.tokens)[:, None], 4, axis=1)
        return ProteinChain(
            coords=coords,
            atom_mask=mask,
            sequence=t.sequence,
            auth_chain_id=t.chain_id,
            label_chain_id=t.chain_id,
            res_ids=t.res_ids,
            ins_codes=t.ins_codes,
            source=f"decoded:{t.id}",
        )


def _chain_name(i: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[i] if i < 26 else f"C{i}"


def load(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    max_batch_residues: int | None = None,
) -> Tokenizer:
    """Load a tokenizer: a shipped model by name (the default model when ``None``) or a checkpoint folder.

    Parameters
    ----------
    name_or_path : str or path, optional
        A registry name such as ``"protok-provq-small-v0"`` or a folder with ``config.json`` and
        ``model.safetensors``.
    device : str or torch.device
    batch_size : int
        Most chains per encoder call.
    max_batch_residues : int, optional
        Most residues per encoder call (default: by device, see :class:`Tokenizer`).

    Raises
    ------
    protok.errors.ModelNotFoundError
        The name is unknown and the path does not exist.
    """
    from protok.models import io as model_io

    if name_or_path is None:
        from protok.models import registry

        name_or_path = registry.DEFAULT_MODEL
    model = model_io.load_model(str(name_or_path), inference=True)
    return Tokenizer(
        model,
        device=device,
        batch_size=batch_size,
        max_batch_residues=max_batch_residues,
        name=str(name_or_path),
    )
