"""Options of one batch tokenization run (``protok tokenize``, :func:`protok.tokenizer.runner.run_tokenize`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TokenizeConfig"]


@dataclass
class TokenizeConfig:
    """Options of one ``protok tokenize`` run.

    Attributes
    ----------
    inputs : list of str
        Structure files, in the order records are written.
    output : Path, optional
        ``.fasta`` / ``.jsonl`` / ``.parquet`` output (sharded, resumable); None writes FASTA text to a stream.
    chains : list of str, optional
        Author chain ids to keep (default: every protein chain).
    model : int, optional
        1-based model number of multi-model files (default: the first).
    workers : int
        Worker processes beside this one (0: everything in this process).
    files_per_shard : int
        Input files per committed output shard.
    resume : bool
        Continue an interrupted run into the same output.
    engine : str
        ``"local"`` or ``"ray"``.
    progress : bool
        Progress bar on stderr.
    model_name : str, optional
        What worker processes load (default: the tokenizer's own name).
    device : str
        Encoder device of the Ray engine's workers.
    ids : dict of str to str, optional
        Input -> record id (default: :func:`protok.tokenizer.inputs.record_ids` of ``inputs``).
    """

    inputs: list[str]
    output: Path | None = None
    chains: list[str] | None = None
    model: int | None = None
    workers: int = 0
    files_per_shard: int = 256
    resume: bool = False
    engine: str = "local"
    progress: bool = True
    model_name: str | None = None
    device: str = "cpu"
    ids: dict[str, str] | None = None
