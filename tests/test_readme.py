"""The README's first commands are the ones CI runs, and its main job works on the shipped model."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from protok.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"
CI = Path(__file__).resolve().parents[1] / ".ci" / "run"


def _first_block() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README.read_text(), re.S)
    assert block, "README must start with a bash block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_install_main_job_and_tests():
    install, main_job, tests = _first_block()
    assert install.startswith("pip install") and main_job.startswith("protok tokenize structures/")
    ci = CI.read_text()
    assert install in ci and tests in ci, "CI must run the README's install and test commands verbatim"


def test_readme_main_job_prints_tokens():
    _, main_job, _ = _first_block()
    args = shlex.split(main_job)[1:]
    path = Path(__file__).resolve().parents[1] / args[-1]
    res = CliRunner().invoke(cli, [*args[:-1], str(path), "--no-progress"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip() and not ln.startswith("protok tokenize:")]
    assert lines[0] == f">{path.name.split('.')[0]}_A"
    tokens = [int(t) for t in lines[1].split()]
    assert len(tokens) == 76 and all(0 <= t < 512 for t in tokens)  # ubiquitin: 76 residues, all coded


def test_readme_python_api_runs(monkeypatch):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README must show the Python API"
    monkeypatch.chdir(README.parent)  # the snippet names files in structures/
    namespace: dict = {}
    exec(compile(block.group(1), str(README), "exec"), namespace)
    assert len(namespace["results"]) == 2 and len(namespace["backbone"]) == len(namespace["chain"])
    assert [f.source for f in namespace["kept"].failures] == ["structures/empty.pdb"]
    assert namespace["pairs"].input_ids.shape[0] == len(namespace["results"][0])
    assert [c.auth_chain_id for c in namespace["complex_"].chains] == ["A", "B"]


def test_readme_is_a_front_door_of_at_most_150_lines():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    assert "benchmarks/RESULTS.md" in text and (README.parent / "benchmarks" / "RESULTS.md").is_file()
