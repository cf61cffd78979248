"""One adapter protocol for every tokenizer the benchmark scores, and a registry users can extend.

An adapter turns a :class:`~protok.bench.item.BenchItem` into per-residue token ids and exposes the code
vector behind each id. Built-in adapters:

``protok`` (``name=MODEL``, or a registered model name alone)
    A protok model: a registered name (``protok-provq-small-v1``), a checkpoint folder or a training run
    (ProVQ, vanilla VQ, AminoAseed or any user model), resolved as everywhere else
    (:func:`protok.models.registry.model_folder`) and tokenized by :class:`protok.tokenizer.Tokenizer`
    exactly as ``protok tokenize`` does; code vectors are the quantizer's effective codebook; decodes back
    to backbone coordinates.
``3di``
    Foldseek 3Di via biotite's encoder (the same network as ``biotite.structure.alphabet.to_3di``).
    Code vectors: the 20 two-dimensional VQ-VAE centroids of the 3Di encoder. Because a LayerNorm
    over 2 dimensions keeps only the sign of their difference, the probe sees 3Di as one-hot (20-d).
``dssp``
    The 8 DSSP states of the data set (H G I E B T S C) as an 8-token tokenizer, one-hot code vectors.
    It reads stored DSSP labels, so it cannot encode perturbed coordinates (robustness: not applicable)
    and it is the label of the secondary-structure task (an oracle there, not a competitor).
``random``
    Control: a fixed random Gaussian codebook (K=64) quantizing standardised invariant local CA geometry
    (distances and virtual angles/dihedral around each residue) by nearest code — a random-projection
    quantizer in the spirit of BEST-RQ. Structure-aware but untrained.
``aa``
    Control: amino-acid identity (20 + X), one-hot code vectors. Invariant by construction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from protok.bench.item import BenchItem
from protok.errors import ConfigError, ModelNotFoundError, TokenizerNotApplicableError

__all__ = [
    "TokenizerAdapter",
    "ProtokAdapter",
    "ThreeDiAdapter",
    "DSSPAdapter",
    "RandomCodebookAdapter",
    "AminoAcidAdapter",
    "register_adapter",
    "build_adapter",
    "parse_tokenizer_specs",
    "available_adapters",
    "default_tokenizers",
    "DSSP_STATES",
    "AA_LETTERS",
]

#: DSSP 8-state alphabet, token id = position.
DSSP_STATES = "HGIEBTSC"
#: Amino-acid identity alphabet; anything else is X (id 20).
AA_LETTERS = "ACDEFGHIKLMNPQRSTVWY"


@runtime_checkable
class TokenizerAdapter(Protocol):
    """What the benchmark needs from a tokenizer.

    Attributes
    ----------
    name : str
        Row label in the results.
    codebook_size : int
        K; token ids are ``0..K-1`` and ``-1`` marks a residue the tokenizer left undefined.
    can_decode : bool
        True if :meth:`decode` rebuilds backbone coordinates from tokens.
    applies_to_perturbed : bool
        False if tokens come from stored annotations rather than coordinates (robustness not applicable).
    """

    name: str
    codebook_size: int
    can_decode: bool
    applies_to_perturbed: bool

    def encode(self, item: BenchItem) -> np.ndarray:
        """Tokens, shape=(L,), dtype=int64, in ``-1..K-1``."""
        ...

    def code_vectors(self) -> np.ndarray:
        """Code vectors, shape=(K, D), dtype=float32 (row i is the vector behind token i)."""
        ...

    def probe_vectors(self) -> np.ndarray:
        """Vectors the probe's frozen lookup uses, shape=(K, D'); usually ``code_vectors()``."""
        ...

    def fingerprint(self) -> str:
        """A string that changes whenever the tokens could change (for caching)."""
        ...

    def decode(self, tokens: np.ndarray, item: BenchItem) -> np.ndarray:
        """Backbone coordinates, shape=(L, 4, 3), from tokens (only if ``can_decode``)."""
        ...


def _one_hot(n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)


class _Base:
    name: str = ""
    codebook_size: int = 0
    can_decode: bool = False
    applies_to_perturbed: bool = True

    def probe_vectors(self) -> np.ndarray:
        return self.code_vectors()  # type: ignore[attr-defined]

    def decode(self, tokens: np.ndarray, item: BenchItem) -> np.ndarray:
        raise TokenizerNotApplicableError(f"{self.name}: this tokenizer does not decode")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, K={self.codebook_size})"


class AminoAcidAdapter(_Base):
    """Amino-acid identity control (21 tokens, one-hot code vectors)."""

    codebook_size = 21

    def __init__(self, name: str = "aa") -> None:
        self.name = name
        lut = np.full(256, 20, np.int64)
        for i, a in enumerate(AA_LETTERS):
            lut[ord(a)] = i
        self._lut = lut

    def encode(self, item: BenchItem) -> np.ndarray:
        return self._lut[np.frombuffer(item.chain.sequence.encode(), np.uint8)]

    def code_vectors(self) -> np.ndarray:
        return _one_hot(self.codebook_size)

    def fingerprint(self) -> str:
        return "aa-v1"


class DSSPAdapter(_Base):
    """DSSP 8-state labels as tokens (one-hot code vectors); needs ``annotations['dssp']``."""

    codebook_size = 8
    applies_to_perturbed = False

    def __init__(self, name: str = "dssp") -> None:
        self.name = name

    def encode(self, item: BenchItem) -> np.ndarray:
        d = item.annotations.get("dssp")
        if d is None:
            raise TokenizerNotApplicableError(
                f"{item.id}: no DSSP labels (the dssp tokenizer reads stored labels)"
            )
        lut = {s: i for i, s in enumerate(DSSP_STATES)}
        return np.array([lut.get(s, -1) for s in d], dtype=np.int64)

    def code_vectors(self) -> np.ndarray:
        return _one_hot(self.codebook_size)

    def fingerprint(self) -> str:
        return "dssp8-v1"


class ThreeDiAdapter(_Base):
    """Foldseek 3Di (20 states) via biotite's 3Di encoder."""

    codebook_size = 20

    def __init__(self, name: str = "3di") -> None:
        from biotite.structure.alphabet.encoder import Encoder

        self.name = name
        self._encoder = Encoder()
        self._centroids = np.asarray(Encoder._CENTROIDS, dtype=np.float32)

    def encode(self, item: BenchItem) -> np.ndarray:
        x = item.chain.coords.astype(np.float64)
        n, ca, c = x[:, 0], x[:, 1], x[:, 2]
        cb = np.full_like(ca, np.nan)  # the encoder places an ideal virtual CB
        states = self._encoder.encode(ca, cb, n, c)
        out = np.asarray(states.data, dtype=np.int64)
        out[np.ma.getmaskarray(states)] = -1
        return out

    def code_vectors(self) -> np.ndarray:
        return self._centroids

    def probe_vectors(self) -> np.ndarray:
        return _one_hot(self.codebook_size)

    def fingerprint(self) -> str:
        import biotite

        return f"3di-biotite-{biotite.__version__}"


def local_geometry_features(coords: np.ndarray) -> np.ndarray:
    """Invariant local CA geometry per residue.

    Parameters
    ----------
    coords : ndarray, shape=(L, 4, 3)

    Returns
    -------
    ndarray, shape=(L, 8), dtype=float32
        CA(i)-CA(i+k) distances for k in (-3,-2,2,3), cos of the virtual bond angle at i, and
        sin/cos of the virtual dihedral (i-1, i, i+1, i+2) plus the dihedral-validity flag; 0 where
        a neighbour is missing. The dihedral sign makes these features chiral (mirror-sensitive).
    """
    ca = np.asarray(coords[:, 1], np.float64)
    n = len(ca)
    f = np.zeros((n, 8), np.float64)

    def shifted(offset: int) -> np.ndarray:
        out = np.full_like(ca, np.nan)
        if offset > 0:
            out[:-offset] = ca[offset:]
        else:
            out[-offset:] = ca[:offset]
        return out

    for col, offset in enumerate((-3, -2, 2, 3)):
        f[:, col] = np.linalg.norm(shifted(offset) - ca, axis=1)
    a, b = shifted(-1) - ca, shifted(1) - ca
    with np.errstate(invalid="ignore", divide="ignore"):
        f[:, 4] = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        p0, p1, p2, p3 = shifted(-1), ca, shifted(1), shifted(2)
        b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
        b1n = b1 / np.linalg.norm(b1, axis=1, keepdims=True)
        v = b0 - (b0 * b1n).sum(1, keepdims=True) * b1n
        w = b2 - (b2 * b1n).sum(1, keepdims=True) * b1n
        x = (v * w).sum(1)
        y = (np.cross(b1n, v) * w).sum(1)
        ang = np.arctan2(y, x)
    f[:, 5], f[:, 6] = np.sin(ang), np.cos(ang)
    f[:, 7] = np.isfinite(ang)
    return np.nan_to_num(f, nan=0.0).astype(np.float32)


class RandomCodebookAdapter(_Base):
    """Random-codebook control: nearest of K fixed random codes to standardised local CA geometry."""

    #: Mean / std used to standardise :func:`local_geometry_features` (typical protein values).
    _MEAN = np.array([8.0, 6.0, 6.0, 8.0, -0.2, 0.0, 0.3, 1.0], np.float32)
    _STD = np.array([2.0, 1.0, 1.0, 2.0, 0.4, 0.7, 0.6, 0.1], np.float32)

    def __init__(self, name: str = "random", *, codebook_size: int = 64, seed: int = 0) -> None:
        self.name = name
        self.codebook_size = codebook_size
        self.seed = seed
        rng = np.random.default_rng(seed)
        self._codes = rng.standard_normal((codebook_size, 8)).astype(np.float32)

    def encode(self, item: BenchItem) -> np.ndarray:
        f = (local_geometry_features(item.chain.coords) - self._MEAN) / self._STD
        d = ((f[:, None, :] - self._codes[None]) ** 2).sum(-1)
        return d.argmin(1).astype(np.int64)

    def code_vectors(self) -> np.ndarray:
        return self._codes

    def fingerprint(self) -> str:
        return f"random-K{self.codebook_size}-s{self.seed}-v1"


class ProtokAdapter(_Base):
    """A protok model (a checkpoint folder of ``config.json`` + ``model.safetensors``), encoded through
    :class:`protok.tokenizer.Tokenizer`: the same graphs (the model's own neighbour count), batching and
    tokens as ``protok tokenize``.

    Parameters
    ----------
    path : str or Path
        A registered model name, a checkpoint folder or a training run (anything
        :func:`protok.models.registry.model_folder` resolves).
    name : str
        Row label, e.g. ``provq``.
    """

    can_decode = True

    def __init__(self, path: str | Path, name: str = "protok") -> None:
        from protok.models.registry import model_folder
        from protok.tokenizer import load

        self.name = name
        try:
            self.path = model_folder(path)
        except ModelNotFoundError as exc:
            raise ModelNotFoundError(f"tokenizer {name!r}: {exc}") from None
        self.tokenizer = load(self.path)
        cb = self.tokenizer.model.quantizer.codebook().detach().float().cpu().numpy()
        self._codes = cb.astype(np.float32)
        self.codebook_size = self.tokenizer.vocab.codebook_size
        self._fp = _hash_path(self.path)

    def encode(self, item: BenchItem) -> np.ndarray:
        return self.encode_batch([item])[0]

    def encode_batch(self, items: list[BenchItem]) -> list[np.ndarray]:
        """Tokens of several chains, batched by the tokenizer (bit-identical to one at a time)."""
        out = self.tokenizer.encode_chains([it.chain for it in items], ids=[it.id for it in items])
        return [np.where(t.mask, t.tokens, -1).astype(np.int64) for t in out]

    def decode(self, tokens: np.ndarray, item: BenchItem) -> np.ndarray:
        vocab = self.tokenizer.vocab
        ids = np.where(np.asarray(tokens) >= 0, tokens, vocab.missing)
        return self.tokenizer.decode_coords(ids, item.chain.chain_breaks)

    def code_vectors(self) -> np.ndarray:
        return self._codes

    def fingerprint(self) -> str:
        return f"protok-tokenizer-{self._fp}"


def _hash_path(path: Path) -> str:
    """Content hash of a checkpoint file or folder (all files, sorted by name)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


_REGISTRY: dict[str, Callable[..., TokenizerAdapter]] = {}


def register_adapter(kind: str, factory: Callable[..., TokenizerAdapter]) -> None:
    """Make ``kind`` (or ``name=...`` specs resolving to it) buildable by :func:`build_adapter`.

    ``factory(name=..., path=None|str)`` must return a :class:`TokenizerAdapter`.
    """
    _REGISTRY[kind] = factory


def available_adapters() -> list[str]:
    return sorted(_REGISTRY)


register_adapter("aa", lambda name="aa", path=None: AminoAcidAdapter(name))
register_adapter("dssp", lambda name="dssp", path=None: DSSPAdapter(name))
register_adapter("3di", lambda name="3di", path=None: ThreeDiAdapter(name))
register_adapter("random", lambda name="random", path=None: RandomCodebookAdapter(name))
register_adapter("protok", lambda name="protok", path=None: ProtokAdapter(path, name))


def default_tokenizers() -> str:
    """What ``protok bench`` scores by default: the shipped default model, ``3di``, ``dssp``, ``random``, ``aa``."""
    from protok.models.registry import DEFAULT_MODEL

    return f"{DEFAULT_MODEL},3di,dssp,random,aa"


def parse_tokenizer_specs(spec: str) -> list[tuple[str, str, str | None]]:
    """Parse ``provq=MODEL,vq=MODEL,3di,dssp,random,aa`` into (name, kind, path) triples.

    ``name=MODEL`` is a protok model (a registered name, a checkpoint folder or a training run) unless
    ``name`` is a registered adapter kind (then ``MODEL`` is passed to that kind's factory); a bare word is a
    registered adapter kind, or a registered model name (scored under that name).
    """
    from protok.models.registry import MODEL_REGISTRY

    out: list[tuple[str, str, str | None]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if "=" in part:
            name, path = (s.strip() for s in part.split("=", 1))
            kind = name if name in _REGISTRY and name != "protok" else "protok"
            out.append((name, kind, path))
        elif part in _REGISTRY:
            out.append((part, part, None))
        elif part in MODEL_REGISTRY:
            out.append((part, "protok", part))
        else:
            raise ConfigError(
                f"unknown tokenizer {part!r}: use one of {available_adapters()}, a registered model "
                f"({', '.join(sorted(MODEL_REGISTRY))}) or name=MODEL (a model name or checkpoint folder)"
            )
    names = [n for n, _, _ in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"tokenizer names must be unique, got {names}")
    return out


def build_adapter(name: str, kind: str, path: str | None = None) -> TokenizerAdapter:
    """Instantiate a registered adapter."""
    if kind not in _REGISTRY:
        raise ConfigError(f"unknown tokenizer kind {kind!r}: registered {available_adapters()}")
    return _REGISTRY[kind](name=name, path=path)
