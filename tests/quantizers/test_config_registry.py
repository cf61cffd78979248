from __future__ import annotations

import json

import pytest
import torch

from protok.errors import ConfigError
from protok.quantizers import (
    QUANTIZERS,
    AminoAseedQuantizer,
    EMAVectorQuantizer,
    FSQuantizer,
    ProgressiveQuantizer,
    Quantizer,
    QuantizerConfig,
    VectorQuantizer,
    build_quantizer,
    register_quantizer,
)


def test_json_round_trip() -> None:
    cfg = QuantizerConfig(
        kind="provq", inner="aminoaseed", schedule="sigmoid", anneal_end=0.3, fsq_levels=[4, 4]
    )
    again = QuantizerConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("vq", VectorQuantizer),
        ("ema", EMAVectorQuantizer),
        ("aminoaseed", AminoAseedQuantizer),
        ("fsq", FSQuantizer),
        ("provq", ProgressiveQuantizer),
    ],
)
def test_build_each_kind(kind: str, cls: type) -> None:
    q = build_quantizer(QuantizerConfig(kind=kind, codebook_size=512, dim=32))
    assert isinstance(q, cls)
    assert q.codebook().shape == (512, 32)
    assert q.codebook_size == 512 and q.dim == 32


def test_provq_inner_kind_is_used() -> None:
    q = build_quantizer(QuantizerConfig(kind="provq", inner="ema", codebook_size=16, dim=4))
    assert isinstance(q, ProgressiveQuantizer) and isinstance(q.inner, EMAVectorQuantizer)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"kind": "nope"}, "unknown quantizer kind 'nope'"),
        ({"kind": "provq", "inner": "fsq"}, "inner quantizer"),
        ({"kind": "fsq", "fsq_levels": [8, 8]}, "give 64 codes"),
    ],
)
def test_bad_configs_raise(fields: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_quantizer(QuantizerConfig(**fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"mechanism": "hard"},
        {"schedule": "step"},
        {"anneal_start": 0.6, "anneal_end": 0.5},
        {"decay": 1.0},
        {"init": "zeros"},
        {"codebook_size": 0},
    ],
)
def test_invalid_fields_rejected(fields: dict) -> None:
    with pytest.raises(ConfigError):
        QuantizerConfig(**fields)


def test_unknown_keys_rejected() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) codebok_size for QuantizerConfig"):
        QuantizerConfig.from_dict({"kind": "vq", "codebok_size": 3})


def test_register_custom_quantizer() -> None:
    class Identity(Quantizer):
        def __init__(self, k: int, d: int) -> None:
            super().__init__()
            self.codebook_size, self.dim = k, d
            self.table = torch.nn.Parameter(torch.eye(k, d))

        def codebook(self) -> torch.Tensor:
            return self.table

    @register_quantizer("test-identity")
    def _build(c: QuantizerConfig) -> Quantizer:
        return Identity(c.codebook_size, c.dim)

    try:
        assert isinstance(
            build_quantizer(QuantizerConfig(kind="test-identity", dim=8, codebook_size=8)), Identity
        )
        with pytest.raises(ConfigError, match="already registered"):
            register_quantizer("test-identity")(_build)
    finally:
        QUANTIZERS.pop("test-identity")
