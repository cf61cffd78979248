"""The consistency term under coordinate noise (protok.models.consistency) on real chains."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from protok.models import ModelConfig, ProtokModel
from protok.models.consistency import MIN_CELL_SHARE, consistency_loss, noisy_coordinates
from protok.quantizers.config import QuantizerConfig

#: Every quantizer kind (and the cosine lookup), as small as the tiny config's.
KINDS: dict[str, dict] = {
    "provq": {"kind": "provq"},
    "vq": {"kind": "vq"},
    "vq-cosine": {"kind": "vq", "cosine": True},
    "ema": {"kind": "ema"},
    "aminoaseed": {"kind": "aminoaseed"},
    "fsq": {"kind": "fsq", "fsq_levels": [4, 4, 4], "codebook_size": 64},
}


def _config(base: ModelConfig, quantizer: dict | None = None, **loss) -> ModelConfig:
    q = (
        base.quantizer
        if quantizer is None
        else QuantizerConfig(**{"codebook_size": 64, "dim": 16, "kmeans_iters": 2, **quantizer})
    )
    return dataclasses.replace(base, quantizer=q, loss=dataclasses.replace(base.loss, **loss))


def test_term_by_hand():
    codes = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    clean = torch.tensor([[0.2, 0.0], [0.0, 2.9]])
    noisy = torch.tensor([[1.2, 0.0], [0.0, 2.9]], requires_grad=True)
    loss, flips = consistency_loss(noisy, clean, codes, torch.ones(2, dtype=torch.bool))
    # residue 0: jitter 1.0^2 over the cell |c0 - c1|^2 = 4, and it crossed to code 1; residue 1: no jitter
    assert float(loss) == pytest.approx(0.5 * 1.0 / 4.0)
    assert float(flips) == pytest.approx(0.5)
    loss.backward()
    assert noisy.grad is not None and noisy.grad[0, 0] > 0 and noisy.grad[1].abs().sum() == 0
    # masked-out rows count nowhere; no rows at all gives 0
    loss1, _ = consistency_loss(noisy, clean, codes, torch.tensor([False, True]))
    assert float(loss1) == 0.0
    loss0, flips0 = consistency_loss(noisy, clean, codes, torch.zeros(2, dtype=torch.bool))
    assert float(loss0) == 0.0 and float(flips0) == 0.0


def test_near_duplicate_codes_are_floored():
    codes = torch.tensor([[0.0, 0.0], [1e-4, 0.0], [4.0, 0.0], [8.0, 0.0]])
    clean = torch.tensor([[0.0, 0.0], [4.0, 0.0]])
    noisy = clean + torch.tensor([[0.1, 0.0], [0.1, 0.0]])
    loss, _ = consistency_loss(noisy, clean, codes, torch.ones(2, dtype=torch.bool))
    cells = torch.tensor([1e-4**2, (4.0 - 1e-4) ** 2])  # nearest and second-nearest codes' distance
    floor = MIN_CELL_SHARE * cells.mean()
    want = 0.5 * (0.01 / floor + 0.01 / cells[1])
    assert float(loss) == pytest.approx(float(want), rel=1e-4)


def test_noisy_coordinates_scale():
    x = torch.zeros(2000, 4, 3)
    assert torch.equal(noisy_coordinates(x, 0.0), x)
    std = float(noisy_coordinates(x, 0.1).std())
    assert std == pytest.approx(0.1, rel=0.05)


def test_zero_noise_gives_zero_and_noise_gives_a_positive_term(tiny_config, two_chains_with_breaks, graph_of):
    batch = graph_of(two_chains_with_breaks)
    model = ProtokModel(_config(tiny_config, consistency_weight=1.0, consistency_noise=0.0)).train()
    out = model(batch, progress=0.5)
    assert float(out.losses["consistency"]) == 0.0
    assert out.stats["consistency_flips"] == 0.0
    model.config = _config(tiny_config, consistency_weight=1.0, consistency_noise=0.1)
    out = model(batch, progress=0.5)
    assert float(out.losses["consistency"]) > 0.0
    assert 0.0 <= out.stats["consistency_flips"] <= 1.0
    base = out.loss - out.losses["consistency"]
    assert float(out.loss) == pytest.approx(float(base + out.losses["consistency"]))
    # training only: eval mode has no noisy pass
    model.eval()
    with torch.no_grad():
        assert "consistency" not in model(batch, progress=0.5).losses


def test_gradients_reach_the_encoder_only_through_the_noisy_copy(tiny_config, ubiquitin, graph_of):
    batch = graph_of(ubiquitin)
    model = ProtokModel(_config(tiny_config, consistency_weight=1.0)).train()
    model(batch, progress=0.5)  # initialises the codebook
    z = model.embed(batch)
    loss, _ = model._consistency(batch, z, batch.node_mask.bool())
    encoder = [p for p in model.encoder.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [z, *encoder], allow_unused=True)
    assert grads[0] is None  # the clean vectors are a stop-gradient target
    assert any(g is not None and g.abs().sum() > 0 for g in grads[1:])


@pytest.mark.parametrize("kind", list(KINDS))
def test_both_terms_with_every_quantizer(kind, tiny_config, ubiquitin, graph_of):
    cfg = _config(tiny_config, KINDS[kind], consistency_weight=1.0, token_local_weight=1.0)
    model = ProtokModel(cfg).train()
    out = model(graph_of(ubiquitin), progress=0.6)
    assert torch.isfinite(out.loss)
    assert float(out.losses["consistency"]) > 0 and float(out.losses["token_local"]) > 0
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.token_local_head is not None
    assert all(p.grad is not None for p in model.token_local_head.parameters())


def test_bf16_inputs_and_autocast_give_the_float32_term(tiny_config, two_chains_with_breaks, graph_of):
    """Under bf16 autocast (CUDA training) the encoder's vectors may be bf16: the noisy graph is still built
    in float32 and the term computed in float32. (CPU autocast runs the pieces; the e3nn encoder itself
    autocasts on CUDA only.)"""
    from protok.graph import ENCODER_FIELDS, regraph

    batch = graph_of(two_chains_with_breaks)
    noisy = noisy_coordinates(batch.coords, 0.1)
    plain = regraph(batch, noisy)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = regraph(batch, noisy)
    for name in ENCODER_FIELDS:
        assert torch.equal(getattr(auto, name), getattr(plain, name)), name

    g = torch.Generator().manual_seed(0)
    codes, clean = torch.randn(32, 16, generator=g), torch.randn(50, 16, generator=g)
    noisy_z = clean + 0.1 * torch.randn(50, 16, generator=g)
    mask = torch.ones(50, dtype=torch.bool)
    want, want_flips = consistency_loss(noisy_z, clean, codes, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, flips = consistency_loss(noisy_z.bfloat16(), clean.bfloat16(), codes, mask)
    assert got.dtype == torch.float32 and float(got) == pytest.approx(float(want), rel=0.05)
    assert 0.0 <= float(flips) <= 1.0 and float(want_flips) >= 0.0
