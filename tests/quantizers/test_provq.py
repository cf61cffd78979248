from __future__ import annotations

import pytest
import torch

from protok.quantizers import ProgressiveQuantizer, VectorQuantizer

MECHANISMS = ["interp", "stochastic"]
INNERS = ["vq", "ema", "aminoaseed"]


def _provq(make_quantizer, mechanism: str, inner: str = "vq", **more) -> ProgressiveQuantizer:
    q = make_quantizer(
        {
            "kind": "provq",
            "mechanism": mechanism,
            "inner": inner,
            "anneal_start": 0.1,
            "anneal_end": 0.6,
            **more,
        }
    )
    assert isinstance(q, ProgressiveQuantizer)
    return q


@pytest.mark.parametrize("inner", INNERS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_alpha_zero_passes_z_through_exactly(make_quantizer, z, mechanism: str, inner: str) -> None:
    q = _provq(make_quantizer, mechanism, inner).train()
    for progress in (0.0, 0.1):
        out = q(z, progress=progress)
        assert out.stats["alpha"] == 0.0
        assert torch.equal(out.quantized, z)
        assert (out.indices >= 0).all()  # the codebook still learns (indices, losses computed)
        assert out.losses["codebook"].item() > 0 or inner == "ema"


@pytest.mark.parametrize("inner", INNERS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_alpha_one_gives_exact_code_vectors(make_quantizer, z, mechanism: str, inner: str) -> None:
    q = _provq(make_quantizer, mechanism, inner).train()
    q(z, progress=0.0)  # data init
    cb_before = q.codebook().detach().clone()
    out = q(z, progress=0.6)
    assert out.stats["alpha"] == 1.0
    # value is exactly the code vector used for the assignment (codebook before this step's EMA update)
    assert torch.equal(out.quantized, cb_before[out.indices])


def test_interp_value_between(make_quantizer, z) -> None:
    q = _provq(make_quantizer, "interp", schedule="linear").train()
    q(z, progress=0.0)
    cb = q.codebook().detach().clone()
    out = q(z, progress=0.35)  # halfway through the ramp
    assert out.stats["alpha"] == pytest.approx(0.5)
    torch.testing.assert_close(out.quantized, 0.5 * z + 0.5 * cb[out.indices])


def test_stochastic_is_per_residue_and_reproducible(make_quantizer, z) -> None:
    def run(seed: int) -> torch.Tensor:
        torch.manual_seed(123)  # global RNG must not matter
        q = _provq(make_quantizer, "stochastic", schedule="linear", seed=seed).train()
        q(z, progress=0.0)
        cb = q.codebook().detach().clone()
        out = q(z, progress=0.35)
        is_code = (out.quantized == cb[out.indices]).all(-1)
        is_z = (out.quantized == z).all(-1)
        assert (is_code | is_z).all()  # every residue sees exactly one of the two
        # (a k-means centre of a one-row cluster equals that row, so both can hold)
        assert (is_code & ~is_z).float().mean() <= out.stats["replaced"] <= is_code.float().mean()
        assert 0.35 < out.stats["replaced"] < 0.65  # alpha = 0.5, 200 residues
        return out.quantized

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_eval_is_fully_discrete_even_early(make_quantizer, z, mechanism: str) -> None:
    q = _provq(make_quantizer, mechanism).train()
    q(z, progress=0.0)
    q.eval()
    out = q(z, progress=0.0)
    assert out.stats["alpha"] == 1.0
    assert torch.equal(out.quantized, q.indices_to_codes(out.indices))


@pytest.mark.parametrize("by_alpha", [True, False])
def test_commitment_weighting(make_quantizer, z, by_alpha: bool) -> None:
    q = _provq(make_quantizer, "interp", schedule="linear", commitment_by_alpha=by_alpha).train()
    q(z, progress=0.0)
    out = q(z, progress=0.35)
    w = 0.25 * (0.5 if by_alpha else 1.0)
    expected = 1.0 * out.losses["codebook"] + w * out.losses["commitment"]
    torch.testing.assert_close(out.loss, expected)


def test_codebook_learns_before_discretisation(make_quantizer, z) -> None:
    """At alpha = 0 the decoder sees z, yet an optimiser step on the loss moves the codebook towards z."""
    # random (not k-means) codebook: k-means centres already minimise the codebook loss
    q = _provq(make_quantizer, "interp", init="none", dead_code_steps=0).train()
    q(z, progress=0.0)
    opt = torch.optim.SGD(q.parameters(), lr=0.5)
    first = None
    for _ in range(5):
        out = q(z, progress=0.0)
        first = first if first is not None else out.losses["codebook"].item()
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert out.losses["codebook"].item() < first
    assert isinstance(q.inner, VectorQuantizer)
