"""Typed, validating conversion between nested dicts (TOML, YAML, JSON) and protok's config dataclasses.

Every protok config (the training sections, the model, encoder, decoder, loss and quantizer configs) is
read with :func:`config_from_dict` and written with :func:`config_to_dict`. Keys are checked against the
dataclass fields and values against the field annotations; a wrong one raises
:class:`~protok.errors.ConfigError` naming the source (a file path, or ``"<dict>"``), the dotted key and
the reason::

    tiny.toml: model.quantizer.dim must be an integer, got str 'x'

Keys that are absent take the field defaults, so configs written before a field existed still load.

Accepted values per annotation:

* ``float``: an int or a float (an int is widened to float); ``int``: an int; ``bool``: true or false.
  A bool is never taken as a number.
* ``str``: a string; another class: an instance of it.
* ``list[X]`` and ``tuple[X, ...]``: a list or tuple, returned as the annotated kind, items checked;
  ``tuple[X, Y]``: exactly that many items.
* ``dict[str, X]``: a mapping, values checked.
* ``X | None``: None or an ``X``; ``X | Y``: the first that accepts the value.
* ``Literal[...]``: one of its values.
* A nested config dataclass: a mapping (converted recursively) or an instance of it.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from protok.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["config_from_dict", "config_to_dict"]

_C = TypeVar("_C", bound="DataclassInstance")


def config_from_dict(cls: type[_C], data: object, *, source: str = "<dict>", key: str = "") -> _C:
    """Build the config dataclass ``cls`` from a (nested) mapping, checking key names and value types.

    Parameters
    ----------
    cls : dataclass type
        The config class; nested dataclass fields are built from nested mappings.
    data : Mapping of str to object
        Field values by name; absent fields take their defaults.
    source : str
        Where ``data`` came from (a file path), the first word of every error message.
    key : str
        Dotted key of ``data`` in the whole tree (``"model.quantizer"``); empty at the top level.

    Returns
    -------
    cls
        The instance, its ``__post_init__`` checks passed.

    Raises
    ------
    ConfigError
        ``data`` is not a mapping, a key is unknown, a value has the wrong type, or ``cls`` rejects a
        value.

    Examples
    --------
    >>> from protok.training.config import OptimConfig
    >>> config_from_dict(OptimConfig, {"lr": 1, "betas": [0.9, 0.95]}).lr
    1.0
    >>> config_from_dict(OptimConfig, {"lr": "fast"}, source="run.toml", key="optim")
    Traceback (most recent call last):
    ...
    protok.errors.ConfigError: run.toml: optim.lr must be a number, got str 'fast'
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {key or cls.__name__} must be a table, got {type(data).__name__}")
    types_by_name = _field_types(cls)
    unknown = sorted(set(data) - set(types_by_name))
    if unknown:
        keys = ", ".join(_join(key, str(name)) for name in unknown)
        raise ConfigError(
            f"{source}: unknown key(s) {keys} for {cls.__name__}; known: {sorted(types_by_name)}"
        )
    kwargs = {
        name: _convert(types_by_name[name], value, source, _join(key, name)) for name, value in data.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:  # ConfigError from __post_init__ included
        raise ConfigError(f"{source}: invalid {key or cls.__name__}: {e}") from e


def config_to_dict(config: DataclassInstance) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (JSON-serialisable; the input of :func:`config_from_dict`).

    Fields appear in declaration order; nested dataclasses become nested dicts, lists are copied.
    """
    return dataclasses.asdict(config)


@functools.cache
def _field_types(cls: type[DataclassInstance]) -> dict[str, Any]:
    """Resolved annotation of every ``__init__`` field of ``cls``, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _got(value: object) -> str:
    return f"got {type(value).__name__} {value!r}"


def _convert(tp: Any, value: Any, source: str, key: str) -> Any:
    """``value`` checked against annotation ``tp`` and converted to it, or ConfigError."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        return _convert_union(tp, value, source, key)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return config_from_dict(tp, value, source=source, key=key)
    if origin in (list, tuple):
        return _convert_sequence(tp, value, source, key)
    if origin is dict or origin is Mapping:
        return _convert_mapping(tp, value, source, key)
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{source}: {key} = {value!r} must be one of {typing.get_args(tp)}")
        return value
    return _convert_scalar(tp, value, source, key)


def _convert_union(tp: Any, value: Any, source: str, key: str) -> Any:
    args = typing.get_args(tp)
    if value is None and type(None) in args:
        return None
    alternatives = [a for a in args if a is not type(None)]
    if len(alternatives) == 1 and dataclasses.is_dataclass(alternatives[0]):
        return _convert(alternatives[0], value, source, key)  # a nested table: its own error and key
    for arg in alternatives:
        try:
            return _convert(arg, value, source, key)
        except ConfigError:
            continue
    names = " | ".join("None" if a is type(None) else getattr(a, "__name__", str(a)) for a in args)
    raise ConfigError(f"{source}: {key} must be {names}, {_got(value)}")


def _convert_sequence(tp: Any, value: Any, source: str, key: str) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{source}: {key} must be a list, {_got(value)}")
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise ConfigError(f"{source}: {key} must have {len(args)} items, got {len(value)}")
        return tuple(_convert(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    item = args[0] if args else Any
    items = [_convert(item, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if typing.get_origin(tp) is tuple else items


def _convert_mapping(tp: Any, value: Any, source: str, key: str) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: {key} must be a table, got {type(value).__name__}")
    args = typing.get_args(tp)
    item = args[1] if len(args) == 2 else Any
    return {k: _convert(item, v, source, f"{key}.{k}") for k, v in value.items()}


def _convert_scalar(tp: Any, value: Any, source: str, key: str) -> Any:
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {key} must be a number, {_got(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key} must be an integer, {_got(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, {_got(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, {_got(value)}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{source}: {key} must be {tp.__name__}, {_got(value)}")
    return value
