"""Named exceptions of protok.

Every error raised on bad input is a subclass of :class:`ProtokError`; its message names the source
(file path, ``<bytes>``, ``<AtomArray>``, ...) and the reason, so batch jobs can record it and go on.
"""

from __future__ import annotations

__all__ = [
    "ProtokError",
    "StructureError",
    "EmptyStructureError",
    "UnknownFormatError",
    "CorruptStructureError",
    "NoProteinChainError",
    "ChainNotFoundError",
    "ModelNotFoundError",
    "ChainTooLongError",
    "ConfigError",
    "CheckpointError",
    "StructureModelNotFoundError",
    "BenchDataError",
    "TokenizerNotApplicableError",
    "InputNotFoundError",
    "TokenFileError",
    "StructureFileNotFoundError",
    "BenchDataNotFoundError",
    "failure_reason",
]


class ProtokError(Exception):
    """Base class of all protok errors."""


class StructureError(ProtokError, ValueError):
    """A structure could not be read or has no usable content.

    Parameters
    ----------
    source : str
        The file path or a description of the in-memory source.
    reason : str
        Why it failed, in words a user can act on.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")

    def __reduce__(self):  # keep picklable across process pools
        return (type(self), (self.source, self.reason))


class EmptyStructureError(StructureError):
    """The file is empty or holds no atoms."""


class UnknownFormatError(StructureError):
    """The file format could not be determined or is not supported."""


class CorruptStructureError(StructureError):
    """The file is not a valid structure file (truncated, corrupt, not a structure)."""


class NoProteinChainError(StructureError):
    """The structure holds no protein chain (e.g. only nucleic acids or ligands)."""


class ChainNotFoundError(StructureError):
    """A requested chain id does not exist in the structure."""


class ChainTooLongError(ProtokError, ValueError):
    """A chain exceeds a documented length limit."""


class ModelNotFoundError(ProtokError, LookupError):
    """A model name or checkpoint path could not be resolved."""


class ConfigError(ProtokError, ValueError):
    """A configuration file or override is invalid."""


class CheckpointError(ProtokError, ValueError):
    """A checkpoint is missing files, is not safetensors/JSON, or does not match its config."""


class StructureModelNotFoundError(StructureError):
    """A requested model number does not exist in a (multi-model) structure file."""


class BenchDataError(StructureError):
    """A benchmark data file (chains archive, label table) is missing or malformed."""


class TokenizerNotApplicableError(ProtokError, ValueError):
    """A benchmark tokenizer cannot encode this input (e.g. DSSP labels needed but absent)."""


class InputNotFoundError(ProtokError, FileNotFoundError):
    """An input path, directory or glob given to ``protok tokenize`` matches no structure file."""


class TokenFileError(ProtokError, ValueError):
    """A token file (``.jsonl`` / ``.parquet`` / ``.fasta``) is malformed; the message names file and record."""


class StructureFileNotFoundError(StructureError, FileNotFoundError):
    """A structure path does not exist."""


class BenchDataNotFoundError(BenchDataError, FileNotFoundError):
    """A benchmark input file or folder does not exist."""


def failure_reason(exc: BaseException, source: object = None) -> str:
    """``"ErrorType: reason"`` for a failed input, without the input's name (recorded beside it).

    Parameters
    ----------
    exc : BaseException
        What the input raised.
    source : object, optional
        The input; a leading ``"{source}: "`` in the message is dropped so the name is not said twice.

    Examples
    --------
    >>> failure_reason(CorruptStructureError("x.cif", "truncated or corrupt mmCIF"), "x.cif")
    'CorruptStructureError: truncated or corrupt mmCIF'
    """
    if isinstance(exc, StructureError):
        message = exc.reason
    else:
        message = str(exc)
        prefix = f"{source}: "
        if source is not None and message.startswith(prefix):
            message = message[len(prefix) :]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
