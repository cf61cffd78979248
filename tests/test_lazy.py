"""protok._lazy: lazy package attributes and the matplotlib-free biotite import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import protok


def test_lazy_attribute_is_imported_on_first_access() -> None:
    assert "load" in dir(protok)
    assert protok.load.__module__ == "protok.tokenizer.api"
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = protok.no_such_name  # type: ignore[attr-defined]


def test_biotite_without_matplotlib() -> None:
    code = (
        "import sys\n"
        "from protok._lazy import import_biotite_without_matplotlib\n"
        "import_biotite_without_matplotlib()\n"
        "assert 'biotite.structure' in sys.modules\n"
        "assert not any(m.split('.')[0] == 'matplotlib' for m in sys.modules), 'matplotlib was imported'\n"
        "import numpy as np, biotite.structure as struc\n"
        "assert struc.distance(np.zeros(3), np.array([3.0, 4.0, 0.0])) == 5.0\n"
        "import matplotlib.patches\n"  # still importable afterwards
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_biotite_without_matplotlib_is_a_no_op_once_biotite_is_imported() -> None:
    import biotite.structure  # noqa: F401

    from protok._lazy import import_biotite_without_matplotlib

    before = dict(sys.modules)
    import_biotite_without_matplotlib()
    assert "matplotlib" not in sys.modules or sys.modules["matplotlib"] is not None
    assert set(sys.modules) == set(before)
