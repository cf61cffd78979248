"""protok.config: typed dict -> config dataclass conversion, its errors, and every config's round trip."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from protok.config import config_from_dict, config_to_dict
from protok.errors import ConfigError
from protok.models import (
    ENCODER_PRESETS,
    MODEL_PRESETS,
    DecoderConfig,
    EncoderConfig,
    LossConfig,
    ModelConfig,
)
from protok.quantizers import QuantizerConfig
from protok.training.config import DataConfig, OptimConfig, RunConfig, TrainConfig

WEIGHTS = Path(__file__).resolve().parents[1] / "protok" / "models" / "weights"


@dataclass(frozen=True)
class Inner:
    size: int = 1
    scale: float = 1.0


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    limit: int | None = None
    pair: tuple[float, float] = (0.0, 1.0)
    many: tuple[int, ...] = ()
    names: list[str] = field(default_factory=list)
    table: dict[str, int] = field(default_factory=dict)
    mode: Literal["a", "b"] = "a"
    either: int | str = 0
    flag: bool = False
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.inner.size > 100:
            raise ConfigError(f"inner.size must be <= 100, got {self.inner.size}")


def _message(data: Any, **kwargs: str) -> str:
    with pytest.raises(ConfigError) as err:
        config_from_dict(Outer, data, **kwargs)
    return str(err.value)


# ------------------------------------------------------------------------------------------ conversion
def test_absent_keys_take_the_defaults() -> None:
    assert config_from_dict(Outer, {}) == Outer()


def test_values_are_converted_to_their_annotations() -> None:
    cfg = config_from_dict(
        Outer,
        {
            "inner": {"size": 3, "scale": 2},
            "pair": [1, 2.5],
            "many": [1, 2, 3],
            "names": ("x", "y"),
            "table": {"a": 1},
            "mode": "b",
            "either": "text",
            "path": Path("p"),
        },
    )
    assert cfg.inner == Inner(size=3, scale=2.0) and isinstance(cfg.inner.scale, float)
    assert cfg.pair == (1.0, 2.5) and all(isinstance(v, float) for v in cfg.pair)
    assert cfg.many == (1, 2, 3)
    assert cfg.names == ["x", "y"]  # a tuple is accepted for a list and becomes one
    assert (cfg.table, cfg.mode, cfg.either, cfg.path) == ({"a": 1}, "b", "text", Path("p"))


def test_optional_fields_take_none_or_the_type() -> None:
    assert config_from_dict(Outer, {"maybe": None, "limit": None}) == Outer()
    cfg = config_from_dict(Outer, {"maybe": {"size": 2}, "limit": 7})
    assert cfg.maybe == Inner(size=2) and cfg.limit == 7
    assert "limit must be int | None, got str 'x'" in _message({"limit": "x"})
    # a nested table under an optional field reports the nested key
    assert "unknown key(s) maybe.sise for Inner" in _message({"maybe": {"sise": 2}})


def test_a_dataclass_instance_is_taken_as_is() -> None:
    inner = Inner(size=5)
    assert config_from_dict(Outer, {"inner": inner}).inner is inner


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "data, message",
    [
        ({"inner": {"size": 1.5}}, "inner.size must be an integer, got float 1.5"),
        ({"inner": {"size": True}}, "inner.size must be an integer, got bool True"),  # a bool is no number
        ({"limit": True}, "limit must be int | None, got bool True"),
        ({"inner": {"scale": False}}, "inner.scale must be a number, got bool False"),
        ({"inner": {"scale": "big"}}, "inner.scale must be a number, got str 'big'"),
        ({"flag": 1}, "flag must be true or false, got int 1"),
        ({"names": [1]}, "names[0] must be a string, got int 1"),
        ({"names": "x"}, "names must be a list, got str 'x'"),
        ({"pair": [1.0]}, "pair must have 2 items, got 1"),
        ({"many": [1, "2"]}, "many[1] must be an integer, got str '2'"),
        ({"table": {"a": "1"}}, "table.a must be an integer, got str '1'"),
        ({"table": [1]}, "table must be a table, got list"),
        ({"mode": "c"}, "mode = 'c' must be one of ('a', 'b')"),
        ({"either": 1.5}, "either must be int | str, got float 1.5"),
        ({"path": "p"}, "path must be Path | None, got str 'p'"),
        ({"inner": 3}, "inner must be a table, got int"),
        ({"inner": {"size": 101}}, "invalid Outer: inner.size must be <= 100, got 101"),
    ],
)
def test_wrong_values_name_source_key_and_reason(data: dict[str, Any], message: str) -> None:
    text = _message(data, source="run.toml")
    assert text.startswith("run.toml: ")
    assert message in text


def test_unknown_keys_are_listed_with_the_known_ones() -> None:
    text = _message({"sise": 1, "mood": "a"}, source="c.json", key="model")
    assert text.startswith("c.json: unknown key(s) model.mood, model.sise for Outer; known: [")
    assert "'inner'" in text and "'names'" in text


def test_nested_errors_carry_the_dotted_key_path() -> None:
    assert "model.inner.size must be an integer" in _message({"inner": {"size": "x"}}, key="model")
    assert "unknown key(s) inner.sise for Inner" in _message({"inner": {"sise": 1}})


def test_the_top_level_must_be_a_mapping() -> None:
    assert _message([1], source="c.yaml") == "c.yaml: Outer must be a table, got list"


# --------------------------------------------------------------------------- protok's config classes
def test_model_config_errors_name_the_nested_key() -> None:
    d = MODEL_PRESETS["small"].to_dict()
    bad_dim = {**d, "quantizer": {**d["quantizer"], "dim": "128"}}
    with pytest.raises(ConfigError, match=r"^m\.json: config\.quantizer\.dim must be an integer, got str"):
        ModelConfig.from_dict(bad_dim, source="m.json", key="config")
    bad_size = {**d, "quantizer": {**d["quantizer"], "codebook_size": 0}}
    with pytest.raises(ConfigError, match=r"invalid quantizer: codebook_size must be >= 1, got 0"):
        ModelConfig.from_dict(bad_size)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) decoder\.width for DecoderConfig"):
        ModelConfig.from_dict({**d, "decoder": {**d["decoder"], "width": 3}})
    with pytest.raises(ConfigError, match=r"ModelConfig is missing section\(s\) \['decoder', 'encoder'\]"):
        ModelConfig.from_dict({"quantizer": d["quantizer"]})


def test_model_configs_saved_before_newer_fields_load_with_defaults() -> None:
    d = MODEL_PRESETS["small"].to_dict()
    for name in ("latent_norm", "context_layers", "context_heads", "loss"):
        d.pop(name)
    del d["encoder"]["separation"], d["quantizer"]["cosine"], d["decoder"]["pair_bias"]
    cfg = ModelConfig.from_dict(d)
    assert cfg.latent_norm is False  # the behaviour of models saved before the field existed
    assert (cfg.context_layers, cfg.loss) == (0, LossConfig())
    assert (cfg.encoder.separation, cfg.quantizer.cosine, cfg.decoder.pair_bias) == ("clip32", False, False)


def _subset(saved: Any, loaded: Any) -> bool:
    if isinstance(saved, dict):
        return all(k in loaded and _subset(v, loaded[k]) for k, v in saved.items())
    return bool(saved == loaded)


@pytest.mark.parametrize("folder", sorted(WEIGHTS.glob("*/config.json")), ids=lambda p: p.parent.name)
def test_shipped_model_configs_load_unchanged(folder: Path) -> None:
    saved = json.loads(folder.read_text())["config"]
    loaded = ModelConfig.from_dict(saved).to_dict()
    assert _subset(saved, loaded)
    assert list(loaded) == list(ModelConfig().to_dict())


def _train_config() -> TrainConfig:
    return TrainConfig(
        model=MODEL_PRESETS["base"],
        data=DataConfig(promod3="c.npz", structures=["a"], crop_schedule=[[0.0, 64.0, 8.0]], knn=8),
        optim=OptimConfig(lr=1e-3, betas=[0.9, 0.95]),
        run=RunConfig(out_dir="runs/x", bf16=False, stop_at=5),
    )


ALL_CONFIGS = [
    _train_config(),
    DataConfig(scop="s.tsv", max_chains=3, coord_noise=0.1),
    OptimConfig(grad_clip=0.0, warmup_steps=3),
    RunConfig(device="cpu", best_metric="val/lddt"),
    MODEL_PRESETS["small"],
    dataclasses.replace(MODEL_PRESETS["base"], context_layers=2, latent_norm=False),
    ENCODER_PRESETS["base"],
    EncoderConfig(separation="log", dropout=0.1),
    DecoderConfig(max_length=300, pair_bias=True),
    LossConfig(local_weight=0.5, inter_chain=False),
    QuantizerConfig(kind="fsq", codebook_size=64, fsq_levels=[4, 4, 4], cosine=True),
]


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=lambda c: type(c).__name__)
def test_every_config_round_trips_through_json(cfg: Any) -> None:
    d = config_to_dict(cfg)
    again = config_from_dict(type(cfg), json.loads(json.dumps(d)))
    assert again == cfg
    assert config_to_dict(again) == d
    if hasattr(cfg, "from_dict"):  # the public methods delegate to the same conversion
        assert cfg.to_dict() == d
        assert type(cfg).from_dict(json.loads(json.dumps(d))) == cfg


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=lambda c: type(c).__name__)
def test_every_config_is_frozen(cfg: Any) -> None:
    name = dataclasses.fields(cfg)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cfg, name, getattr(cfg, name))


def test_to_dict_copies_lists() -> None:
    cfg = QuantizerConfig(fsq_levels=[8, 8, 8])
    config_to_dict(cfg)["fsq_levels"].append(2)
    assert cfg.fsq_levels == [8, 8, 8]
