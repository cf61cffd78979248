"""The shared contract, checked for every quantizer variant (see conftest.VARIANTS)."""

from __future__ import annotations

import pytest
import torch

from protok.quantizers import QuantizerInputError, QuantizerOutput

K, D = 64, 16  # as in conftest.py


def _train_steps(
    q: torch.nn.Module, z: torch.Tensor, steps: int = 3, progress: float = 0.3
) -> QuantizerOutput:
    q.train()
    out = None
    for _ in range(steps):
        out = q(z, progress=progress)
    assert out is not None
    return out


def test_output_shapes_and_stats(variant, z, make_quantizer) -> None:
    _, over = variant
    out = make_quantizer(over)(z, progress=0.3)
    assert out.quantized.shape == z.shape
    assert out.indices.shape == (z.shape[0],) and out.indices.dtype == torch.long
    assert ((out.indices >= 0) & (out.indices < K)).all()
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert {"codebook", "commitment"} <= set(out.losses)
    for key in ("perplexity", "usage", "dead_codes", "reseeded"):
        assert isinstance(out.stats[key], float)
    used = out.indices.unique().numel()
    assert out.stats["usage"] == pytest.approx(used / K)
    assert 1.0 <= out.stats["perplexity"] <= used + 1e-3


def test_eval_is_exact_index_round_trip(variant, z, make_quantizer) -> None:
    _, over = variant
    q = make_quantizer(over)
    _train_steps(q, z)
    q.eval()
    for progress in (0.0, 0.5, 1.0):  # eval is fully discrete whatever the progress
        with torch.no_grad():
            out = q(z, progress=progress)
        assert torch.equal(out.quantized, q.indices_to_codes(out.indices))


def test_indices_equal_forward_indices_in_eval(variant, z, make_quantizer) -> None:
    """``indices`` (the tokenizer's path) gives exactly ``forward(...).indices`` of the eval module."""
    _, over = variant
    q = make_quantizer(over)
    _train_steps(q, z)
    q.eval()
    mask = torch.ones(z.shape[0], dtype=torch.bool)
    mask[1::4] = False
    for m in (None, mask):
        with torch.no_grad():
            expected = q(z, mask=m, progress=1.0).indices
        assert torch.equal(q.indices(z, m), expected)


def test_masked_rows(variant, z, make_quantizer) -> None:
    _, over = variant
    mask = torch.ones(z.shape[0], dtype=torch.bool)
    mask[::3] = False
    q = make_quantizer(over)
    _train_steps(q, z)
    for training in (True, False):
        q.train(training)
        out = q(z, mask=mask, progress=0.3)
        assert (out.indices[~mask] == -1).all() and (out.indices[mask] >= 0).all()
        assert (out.quantized[~mask] == 0).all()
        if not training:
            assert torch.equal(out.quantized, q.indices_to_codes(out.indices))
    # masked rows contribute no loss and no statistics: garbage (even NaN) there changes nothing
    q.eval()
    z_bad = z.clone()
    z_bad[~mask] = float("nan")
    a, b = q(z, mask=mask), q(z_bad, mask=mask)
    assert torch.equal(a.indices, b.indices) and torch.equal(a.quantized, b.quantized)
    assert torch.equal(a.loss, b.loss) and a.stats == b.stats
    ref = q(z[mask])
    assert torch.equal(ref.indices, a.indices[mask])
    assert ref.stats["usage"] == a.stats["usage"] and ref.stats["perplexity"] == pytest.approx(
        a.stats["perplexity"]
    )


def test_gradients_reach_input_and_codebook(variant, z, make_quantizer) -> None:
    name, over = variant
    q = make_quantizer(over)
    _train_steps(q, z, steps=1)
    for progress in (0.0, 0.3, 1.0):
        q.zero_grad()
        x = z.clone().requires_grad_(True)
        out = q(x, progress=progress)
        (out.quantized.pow(2).sum() + out.loss).backward()
        assert x.grad is not None and x.grad.abs().sum() > 0, (name, progress)
        params = [p for p in q.parameters() if p.requires_grad]
        if "ema" in name:
            assert not params  # EMA codebooks learn from statistics, tested in test_vq.py
        else:
            assert params and all(p.grad is not None and p.grad.abs().sum() > 0 for p in params), (
                name,
                progress,
            )


def test_all_masked_batch_is_harmless(variant, z, make_quantizer) -> None:
    _, over = variant
    q = make_quantizer(over)
    mask = torch.zeros(z.shape[0], dtype=torch.bool)
    out = q(z.requires_grad_(True), mask=mask, progress=0.5)
    assert (out.indices == -1).all() and (out.quantized == 0).all()
    assert out.loss.item() == 0.0
    out.loss.backward()  # graph stays connected


def test_bad_input_raises(variant, make_quantizer) -> None:
    _, over = variant
    q = make_quantizer(over)
    with pytest.raises(QuantizerInputError, match=rf"\(N, {D}\)"):
        q(torch.randn(5, D + 1))
    with pytest.raises(QuantizerInputError, match="mask"):
        q(torch.randn(5, D), mask=torch.ones(4, dtype=torch.bool))
    with pytest.raises(QuantizerInputError, match="mask"):
        q(torch.randn(5, D), mask=torch.ones(5))


def test_safetensors_round_trip_keeps_codebook_and_init(variant, z, make_quantizer, tmp_path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    _, over = variant
    q = make_quantizer(over)
    for _ in range(2):
        q(z, progress=0.3)
    path = tmp_path / "q.safetensors"
    safetensors_torch.save_file(q.state_dict(), str(path))
    fresh = make_quantizer(over, seed=7)  # different random init: the loaded state must win
    fresh.load_state_dict(safetensors_torch.load_file(str(path)))
    q.eval()
    fresh.eval()
    a, b = q(z), fresh(z)
    assert torch.equal(a.indices, b.indices) and torch.equal(a.quantized, b.quantized)
    fresh.train()
    before = fresh.codebook().detach().clone()
    fresh(z[:5], progress=0.3)  # a restored, initialised codebook is not re-initialised from this batch
    moved = (fresh.codebook().detach() - before).abs().max()
    assert moved < 1.0


def test_float64(variant, z, make_quantizer) -> None:
    _, over = variant
    q = make_quantizer(over, dead_code_steps=1).double()
    x = z.double().requires_grad_(True)
    for _ in range(2):
        out = q(x, progress=0.3)
        (out.quantized.square().sum() + out.loss).backward()
    assert out.quantized.dtype == torch.float64 and x.grad is not None
    q.eval()
    out = q(x.detach())
    assert out.quantized.dtype == torch.float64
    assert torch.equal(out.quantized, q.indices_to_codes(out.indices))


def test_lookup_space_nearest_code_is_the_index(variant, z, make_quantizer) -> None:
    """The nearest code in ``lookup_space`` is the quantizer's index (what the consistency term measures)."""
    from protok.models.consistency import squared_distances

    _, over = variant
    q = make_quantizer(over)
    _train_steps(q, z)
    q.eval()
    vectors, codes = q.lookup_space(z)
    assert vectors.shape[0] == z.shape[0] and codes.shape == (K, vectors.shape[1])
    with torch.no_grad():
        assert torch.equal(squared_distances(vectors, codes).argmin(-1), q.indices(z))
    zg = z.clone().requires_grad_(True)
    q.lookup_space(zg)[0].sum().backward()
    assert zg.grad is not None and zg.grad.abs().sum() > 0
