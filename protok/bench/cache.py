"""Content-hashed on-disk cache of prepared task data and token arrays (``.npz`` + JSON, no pickles)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["file_hash", "hash_parts", "ArrayCache", "default_cache_dir"]

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$PROTOK_CACHE/bench`` or ``~/.cache/protok/bench``."""
    root = os.environ.get("PROTOK_CACHE")
    return Path(root) / "bench" if root else Path.home() / ".cache" / "protok" / "bench"


def file_hash(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes (hex, first 16 characters)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def hash_parts(*parts: Any) -> str:
    """Stable hash of JSON-serialisable parts (hex, first 16 characters)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class ArrayCache:
    """A folder of ``<kind>-<key>.npz`` files, each a dict of arrays plus a JSON ``meta`` entry.

    Parameters
    ----------
    root : Path
        Cache folder (created on first write).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path(self, kind: str, key: str) -> Path:
        return self.root / f"{kind}-{key}.npz"

    def get_or_compute(
        self, kind: str, key: str, compute: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]]
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Load ``kind``/``key`` or compute, store and return it.

        ``compute`` returns ``(arrays, meta)``; ``meta`` must be JSON-serialisable. A corrupt cache file is
        logged and recomputed.
        """
        p = self.path(kind, key)
        if p.is_file():
            try:
                with np.load(p, allow_pickle=False) as d:
                    arrays = {k: d[k] for k in d.files if k != "__meta__"}
                    meta = json.loads(str(d["__meta__"]))
                self.hits += 1
                log.info("cache hit: %s", p)
                return arrays, meta
            except (OSError, ValueError, KeyError) as exc:
                log.warning("%s: unreadable cache entry (%s); recomputing", p, exc)
        self.misses += 1
        arrays, meta = compute()
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp.npz")
        np.savez(tmp, __meta__=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
        tmp.replace(p)
        return arrays, meta
