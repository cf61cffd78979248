"""`protok models` through click's test runner."""

from __future__ import annotations

from click.testing import CliRunner

from protok.cli.main import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_models_lists_installed_models_one_line_each():
    from safetensors import safe_open

    from protok.models.registry import DEFAULT_MODEL, available_models, resolve_model

    res = _run("models")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert len(lines) == len(available_models()) >= 1
    for name, line in zip(available_models(), lines):
        weights = resolve_model(name) / "model.safetensors"
        with safe_open(str(weights), "np") as fh:  # parameter count from the tensors themselves
            params = sum(fh.get_tensor(k).size for k in fh.keys())
        assert f" {name} " in line and "K=512" in line
        assert f"{params / 1e6:.2f}M parameters" in line
        assert f"{weights.stat().st_size / 1e6:.1f} MB" in line
        assert line.startswith("* ") == (name == DEFAULT_MODEL) == line.endswith("(default)")
