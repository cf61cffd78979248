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
