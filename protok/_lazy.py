"""Import-time costs kept off the paths that do not need them.

* :func:`lazy_attributes`: public names imported from their module on first access (PEP 562), for packages
  whose public API would otherwise import torch at ``import`` time, so that ``protok --help`` and the light
  modules (inputs, token files, the worker pool) stay fast.
* :func:`import_biotite_without_matplotlib`: biotite without the plotting library it pulls in, for the
  processes of ``protok tokenize``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(
    package: str, lazy: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``lazy`` maps each public name to its defining module.

    The first access imports the module and caches the value in the package namespace.
    """

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(lazy) | {n for n in vars(sys.modules[package]) if not n.startswith("_")})

    return __getattr__, __dir__


def import_biotite_without_matplotlib() -> None:
    """Import ``biotite.structure`` without the matplotlib import biotite makes when matplotlib is installed.

    biotite's package ``__init__`` imports ``biotite.visualize``, which imports matplotlib (0.2 s) to define
    a plotting helper if it can. The processes of ``protok tokenize`` never plot; they call this before
    anything imports biotite, so that import finds matplotlib blocked and skips the helper (biotite's own
    ``try``/``except ImportError``): in such a process ``biotite.visualize.AdaptiveFancyArrow`` is biotite's
    stand-in that raises when used; matplotlib itself stays importable. A no-op when biotite or matplotlib
    is already imported.
    """
    if "biotite" in sys.modules or "matplotlib" in sys.modules:
        return
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # makes `import matplotlib...` raise
    try:
        importlib.import_module("biotite.structure")
    finally:
        del sys.modules["matplotlib"]
