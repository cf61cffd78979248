"""Vanilla VQ, EMA VQ and AminoAseed specifics: init, dead codes, agreement with vector-quantize-pytorch."""

from __future__ import annotations

import pytest
import torch

from protok.quantizers import AminoAseedQuantizer, EMAVectorQuantizer, VectorQuantizer


@pytest.mark.parametrize("init", ["sample", "kmeans"])
@pytest.mark.parametrize("cls", [VectorQuantizer, EMAVectorQuantizer, AminoAseedQuantizer])
def test_data_dependent_init(z, cls, init: str) -> None:
    q = cls(codebook_size=8, dim=z.shape[1], init=init, dead_code_steps=0)
    before = q.codebook().detach().clone()
    q.eval()
    q(z)
    assert torch.equal(q.codebook(), before)  # no init in eval mode
    q.train()
    q(z)
    cb = q.codebook().detach()
    assert bool(q.initted)
    if init == "sample" and cls is not EMAVectorQuantizer:  # (EMA already moved its codes in this step)
        # each code is (up to the least-squares solve of AminoAseed) one of the data rows
        d = (cb[:, None, :] - z[None]).abs().amax(-1).min(1).values
        assert (d < 1e-5).all()
    elif init == "kmeans":
        # k-means centres: mean distance of data to codes is far below that of the random init
        assert torch.cdist(z, cb).min(1).values.mean() < 0.5 * torch.cdist(z, before).min(1).values.mean()
    q(z)
    assert torch.equal(q.codebook().detach(), cb) or cls is EMAVectorQuantizer  # init only once


def test_init_is_reproducible_from_seed(z) -> None:
    a, b, c = (VectorQuantizer(codebook_size=8, dim=z.shape[1], seed=s) for s in (0, 0, 1))
    for q in (a, b, c):
        q(z)
    assert torch.equal(a.codebook(), b.codebook()) and not torch.equal(a.codebook(), c.codebook())


@pytest.mark.parametrize("cls", [VectorQuantizer, EMAVectorQuantizer, AminoAseedQuantizer])
def test_dead_codes_are_reseeded_and_reported(z, cls) -> None:
    q = cls(codebook_size=32, dim=z.shape[1], init="sample", dead_code_steps=3)
    batch = z[:20]  # a few of the 10 clusters; codes elsewhere go unused
    with torch.no_grad():
        q(z)
        steps = [q(batch).stats for _ in range(2)]
        idle_before = q.unused_steps.clone()
        out = q(batch)
    assert all(s["reseeded"] == 0 and s["dead_codes"] == 0 for s in steps)
    used = torch.zeros(32, dtype=torch.bool)
    used[out.indices] = True
    dead = (idle_before + 1 >= 3) & ~used
    assert dead.sum() > 0
    assert out.stats["dead_codes"] == out.stats["reseeded"] == float(dead.sum())
    assert (q.unused_steps[dead] == 0).all()
    # re-seeded codes sit on batch rows, perturbed by 0.01 batch std per dimension
    d = torch.cdist(q.codebook().detach()[dead], batch).min(1).values
    assert (d < 0.3).all()


@pytest.mark.parametrize("cls", [VectorQuantizer, EMAVectorQuantizer, AminoAseedQuantizer])
@pytest.mark.parametrize("cosine", [False, True])
def test_reseed_in_a_training_step_keeps_the_backward_valid(z, cls, cosine: bool) -> None:
    """Codes re-seeded during a step with gradients (the cosine lookup keeps the codebook in the graph)."""
    q = cls(codebook_size=32, dim=z.shape[1], init="sample", dead_code_steps=2, cosine=cosine)
    q(z)
    zz = z[:20].clone().requires_grad_(True)
    reseeded = 0.0
    for _ in range(3):
        out = q(zz)
        (out.loss + out.quantized.sum()).backward()
        reseeded += out.stats["reseeded"]
    assert reseeded > 0
    assert zz.grad is not None and torch.isfinite(zz.grad).all()


def test_no_reseed_when_disabled(z) -> None:
    q = VectorQuantizer(codebook_size=32, dim=z.shape[1], init="sample", dead_code_steps=0)
    stats = [q(z[:20]).stats for _ in range(5)]
    assert all(s["reseeded"] == 0 and s["dead_codes"] == 0 for s in stats)


def test_aminoaseed_raw_codebook_frozen_projection_moves_all_codes(z) -> None:
    q = AminoAseedQuantizer(codebook_size=32, dim=z.shape[1], dead_code_steps=0)
    q(z)  # init
    raw = q.raw_codebook.clone()
    cb = q.codebook().detach().clone()
    assert "raw_codebook" not in dict(q.named_parameters())
    opt = torch.optim.SGD(q.parameters(), lr=0.1)
    out = q(z[:10])  # 10 rows cannot use all 32 codes
    used = out.indices.unique()
    opt.zero_grad()
    out.loss.backward()
    opt.step()
    assert torch.equal(q.raw_codebook, raw)
    moved = (q.codebook().detach() - cb).norm(dim=1) > 0
    unused = torch.ones(32, dtype=torch.bool)
    unused[used] = False
    assert unused.any() and moved[unused].all()  # every code moves, used or not


def test_aminoaseed_reseed_hits_requested_effective_vectors(z) -> None:
    q = AminoAseedQuantizer(codebook_size=8, dim=z.shape[1], init="none")
    with torch.no_grad():
        q.proj.weight.add_(0.1 * torch.randn_like(q.proj.weight))
        q.proj.bias.normal_()
    target = z[:3]
    q._assign_codes(torch.tensor([1, 4, 6]), target)
    torch.testing.assert_close(q.codebook().detach()[[1, 4, 6]], target, atol=1e-4, rtol=1e-4)


# ---- agreement with vector-quantize-pytorch -----------------------------------------------------------------


def test_vq_matches_vector_quantize_pytorch(z) -> None:
    vqp = pytest.importorskip("vector_quantize_pytorch")
    ours = VectorQuantizer(codebook_size=32, dim=z.shape[1], init="none").eval()
    ref = vqp.VectorQuantize(
        dim=z.shape[1], codebook_size=32, learnable_codebook=True, ema_update=False
    ).eval()
    with torch.no_grad():
        ref._codebook.embed.copy_(ours.weight[None])
    out = ours(z)
    quantized, indices, _ = ref(z[None])
    assert torch.equal(out.indices, indices[0])
    torch.testing.assert_close(out.quantized, quantized[0], rtol=0, atol=1e-6)


def test_ema_update_matches_vector_quantize_pytorch(z) -> None:
    vqp = pytest.importorskip("vector_quantize_pytorch")
    ours = EMAVectorQuantizer(codebook_size=32, dim=z.shape[1], init="none", decay=0.9, dead_code_steps=0)
    ref = vqp.VectorQuantize(dim=z.shape[1], codebook_size=32, decay=0.9, eps=1e-5, commitment_weight=0.25)
    with torch.no_grad():
        ref._codebook.embed.copy_(ours.embed[None])
        ref._codebook.embed_avg.copy_(ours.embed_avg[None])
    ref.train()
    for step in range(3):
        x = z[step * 50 : (step + 1) * 50]
        out = ours(x)
        quantized, indices, loss = ref(x[None])
        assert torch.equal(out.indices, indices[0])
        torch.testing.assert_close(out.quantized, quantized[0], rtol=0, atol=1e-5)
        torch.testing.assert_close(ours.cluster_size, ref._codebook.cluster_size[0])
        torch.testing.assert_close(ours.embed, ref._codebook.embed[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(0.25 * out.losses["commitment"], loss, rtol=1e-5, atol=1e-6)


def test_fsq_matches_vector_quantize_pytorch(z) -> None:
    vqp = pytest.importorskip("vector_quantize_pytorch")
    from protok.quantizers import FSQuantizer

    ours = FSQuantizer(levels=[8, 5, 5, 3], dim=z.shape[1]).eval()
    ref = vqp.FSQ(levels=[8, 5, 5, 3], dim=z.shape[1]).eval()
    ref.load_state_dict({k: v for k, v in ours.state_dict().items() if k.startswith("project")}, strict=True)
    out = ours(z)
    quantized, indices = ref(z[None])
    assert torch.equal(out.indices, indices[0])
    torch.testing.assert_close(out.quantized, quantized[0], rtol=1e-5, atol=1e-5)
