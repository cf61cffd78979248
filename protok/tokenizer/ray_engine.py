"""``protok tokenize --engine ray``: the same per-file function on a Ray cluster with Ray Data.

Parsing (:func:`protok.tokenizer.per_file.parse_file`) runs as a CPU ``map``; encoding runs in
``map_batches`` with a stateful class (:class:`_EncodeBatch`) that loads the model once per worker (or GPU).
The driver receives per-file records and commits them through the same sharded store as the local engine,
so outputs, errors files and ``--resume`` behave identically. Ray is optional: ``pip install protok[ray]``.
Connects to ``RAY_ADDRESS`` when set (a cluster), else starts a local instance.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np

from protok.tokenizer.api import Tokenizer, load
from protok.tokenizer.config import TokenizeConfig
from protok.tokenizer.per_file import FileResult, encode_group, parse_file
from protok.tokenizer.store import FailedInput

__all__ = ["run_ray"]


def _parse_row(row: dict[str, Any], chains: list[str] | None, model: int | None, k: int) -> dict[str, Any]:
    res = parse_file(str(row["source"]), chains, model, k=k)
    # in-memory hand-over between Ray workers (never written to disk)
    return {"source": res.source, "payload": pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL)}


class _EncodeBatch:
    """Stateful Ray Data UDF: loads the tokenizer once, encodes batches of parsed files."""

    def __init__(self, model_name: str, device: str, batch_size: int) -> None:
        self.tok = load(model_name, device=device, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results: list[FileResult] = [pickle.loads(p) for p in batch["payload"]]
        records, _ = encode_group(self.tok, results)
        it = iter(records)
        per_file = [json.dumps([next(it) for _ in r.items]) if r.error is None else "[]" for r in results]
        return {
            "source": np.array([r.source for r in results], dtype=object),
            "error": np.array([r.error or "" for r in results], dtype=object),
            "records": np.array(per_file, dtype=object),
        }


def run_ray(
    files: list[str], cfg: TokenizeConfig, tok: Tokenizer
) -> Iterator[tuple[list[dict[str, Any]], list[str], list[FailedInput]]]:
    """Yield ``(records, sources, failed)`` groups of about ``cfg.files_per_shard`` files."""
    try:
        import ray
    except ImportError:  # pragma: no cover - depends on the optional extra
        raise ImportError("--engine ray needs Ray Data: pip install 'protok[ray]'") from None
    if not files:
        return
    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, log_to_driver=False)
    total_cpu = float(ray.cluster_resources().get("CPU", 1.0))
    unit = 1.0 if total_cpu >= 2 else total_cpu / 2
    on_gpu = cfg.device.startswith("cuda")
    model_name = cfg.model_name or tok.name
    ds: Any = ray.data.from_items([{"source": f} for f in files])
    ds = ds.map(
        _parse_row,
        fn_kwargs={"chains": cfg.chains, "model": cfg.model, "k": tok.k_neighbours},
        num_cpus=unit,
    )
    ds = ds.map_batches(
        _EncodeBatch,
        fn_constructor_kwargs={"model_name": model_name, "device": cfg.device, "batch_size": tok.batch_size},
        batch_size=max(1, min(cfg.files_per_shard, 64)),
        batch_format="numpy",
        concurrency=max(1, cfg.workers) if not on_gpu else max(1, cfg.workers or 1),
        num_cpus=0 if on_gpu else unit,
        num_gpus=1 if on_gpu else 0,
    )
    for batch in ds.iter_batches(batch_size=cfg.files_per_shard, batch_format="numpy"):
        records: list[dict[str, Any]] = []
        failed: list[FailedInput] = []
        for src, err, recs in zip(batch["source"], batch["error"], batch["records"]):
            if err:
                failed.append(FailedInput(str(src), str(err)))
            records.extend(json.loads(recs))
        yield records, [str(s) for s in batch["source"]], failed
