"""Config tree: TOML / YAML reading, dotted overrides, validation errors, JSON round trip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from protok.errors import ConfigError
from protok.models import MODEL_PRESETS, ModelConfig
from protok.training.config import (
    TrainConfig,
    apply_overrides,
    load_config,
    parse_override,
)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def test_tiny_toml_loads_with_preset_and_overrides() -> None:
    cfg = load_config(CONFIGS / "tiny.toml", ["optim.lr=3e-4", "run.out_dir=runs/x", "data.batch_size=3"])
    assert cfg.optim.lr == 3e-4
    assert cfg.run.out_dir == "runs/x"  # not valid TOML -> taken as a plain string
    assert cfg.data.batch_size == 3
    assert cfg.model.quantizer.codebook_size == 16 and cfg.model.quantizer.kind == "provq"
    # keys not set in [model] come from the "small" preset
    assert cfg.model.loss.distance_clamp == 25.0
    # relative data paths resolve against the config file's folder
    assert Path(cfg.data.promod3).is_absolute() and cfg.data.promod3.endswith("promod3/chains.npz")


def test_round_trip_through_dict_and_yaml(tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "tiny.toml")
    d = cfg.to_dict()
    again = TrainConfig.from_dict(d)
    assert again.to_dict() == d
    y = tmp_path / "c.yaml"
    y.write_text(yaml.safe_dump(d))
    assert load_config(y).to_dict() == d


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "optim.lrr"),
        ("optim.lr=fast", "optim.lr must be a number"),
        ("data.batch_size=2.5", "data.batch_size must be an integer"),
        ("run.bf16=1", "run.bf16 must be true or false"),
        ("model.quantizer.kindd=vq", "model.quantizer.kindd"),
        ("model.preset=huge", "model.preset 'huge' is neither a preset"),
        ("optim.betas=[0.9]", "optim.betas must have two values"),
        ("run.total_steps=0", "run.total_steps must be >= 1"),
        ("distill.temperature=0", "distill.temperature must be > 0"),
        ("distill.code_weight=-1", "distill.vector_weight and distill.code_weight must be >= 0"),
        ("distill.teachr=x", "distill.teachr"),
        ("nonsense.x=1", "unknown key(s) nonsense for TrainConfig"),
        ("model.quantizer.dim=0", "invalid model.quantizer: dim must be >= 1"),
        ("model.decoder.max_length=[1]", "model.decoder.max_length must be int | None, got list [1]"),
    ],
)
def test_bad_values_raise_config_error_naming_file_and_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(CONFIGS / "tiny.toml", [override])
    assert message in str(err.value)
    assert "tiny.toml" in str(err.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nx=")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    other = tmp_path / "c.ini"
    other.write_text("")
    with pytest.raises(ConfigError, match="unknown config format"):
        load_config(other)


def test_parse_override_types() -> None:
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override('a="x y"') == (["a"], "x y")
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=some/path") == (["a"], "some/path")
    with pytest.raises(ConfigError):
        parse_override("novalue")
    assert apply_overrides({"x": {"y": 1}}, ["x.y=2", "x.z=3"]) == {"x": {"y": 2, "z": 3}}
    with pytest.raises(ConfigError, match="is a value"):
        apply_overrides({"x": 1}, ["x.y=2"])


def test_sections_are_read_with_types_and_frozen() -> None:
    cfg = TrainConfig.from_dict(
        {"data": {"val_fraction": 0, "structures": ["a"]}, "model": {"preset": "small"}}
    )
    assert cfg.data.val_fraction == 0.0 and isinstance(cfg.data.val_fraction, float)
    with pytest.raises(ConfigError, match="data.structures must be a list"):
        TrainConfig.from_dict({"data": {"structures": "a"}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.data.batch_size = 2


def test_model_table_without_preset_starts_from_the_defaults() -> None:
    cfg = TrainConfig.from_dict({"data": {"promod3": "x"}, "model": {"name": "m"}})
    assert cfg.model == dataclasses.replace(ModelConfig(), name="m")
    assert TrainConfig().model == MODEL_PRESETS["small"]


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.toml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_shipped_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.run.total_steps > 0 and cfg.model.quantizer.codebook_size > 0


def test_extends_puts_a_config_on_top_of_another(tmp_path: Path) -> None:
    base_dir, child_dir = tmp_path / "base", tmp_path / "child"
    base_dir.mkdir()
    child_dir.mkdir()
    (base_dir / "base.toml").write_text(
        '[model]\npreset = "small"\n[model.encoder]\nnum_layers = 5\nk = 32\n'
        '[data]\npromod3 = "data/chains.npz"\ncrop_length = 128\n[optim]\nlr = 0.002\n'
    )
    (child_dir / "child.toml").write_text(
        'extends = "../base/base.toml"\n[model.encoder]\nk = 16\n[data]\ncrop_length = 256\n'
    )
    cfg = load_config(child_dir / "child.toml", ["optim.lr=0.001"])
    assert (cfg.model.encoder.num_layers, cfg.model.encoder.k) == (5, 16)  # tables merge key by key
    assert cfg.data.crop_length == 256 and cfg.optim.lr == 0.001
    assert cfg.data.promod3 == str((base_dir / "data" / "chains.npz").resolve())  # the base's own folder

    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match="makes a cycle"):
        load_config(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text("extends = 3\n")
    with pytest.raises(ConfigError, match="extends must be the path"):
        load_config(tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text('extends = "missing.toml"\n')
    with pytest.raises(ConfigError, match="missing.toml: cannot read"):
        load_config(tmp_path / "d.toml")
