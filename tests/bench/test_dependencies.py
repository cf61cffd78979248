"""`protok bench` is a main command: every library it imports is a core dependency, not an extra."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imported_top_modules(files: list[Path]) -> set[str]:
    names: set[str] = set()
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def test_bench_imports_only_core_dependencies():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {_canonical(d.split(">")[0].split("=")[0].split("[")[0].strip()) for d in meta["dependencies"]}
    files = [*(REPO / "protok" / "bench").rglob("*.py"), REPO / "protok" / "cli" / "bench_cmd.py"]
    modules = _imported_top_modules(files) - set(sys.stdlib_module_names) - {"protok", "__future__"}
    dists = packages_distributions()
    needed = {m: {_canonical(d) for d in dists.get(m, [m])} for m in modules}
    missing = {m: d for m, d in needed.items() if not d & core}
    assert not missing, f"imported by protok bench but not core dependencies: {missing}"
    assert {"matplotlib", "tmtools"} <= core
