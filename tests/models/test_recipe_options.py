"""The recipe options a model config can switch on: chain context before quantization, log-bucketed
separation, cosine codes, the pair-biased decoder trunk and the extra losses. Each is off by default (the
shipped models' tokens do not change: ``tests/tokenizer/test_shipped_tokens.py``)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from protok.graph import GraphBatch, graph_fields
from protok.models import ModelConfig, ProtokModel
from protok.models.decoder import Decoder
from protok.models.dense import to_dense
from protok.models.losses import (
    LossConfig,
    local_geometry_loss,
    unclamped_share,
    violation_loss,
)
from protok.testing import assert_invariant, mirror


def _with(cfg: ModelConfig, **changes) -> ModelConfig:
    return ModelConfig.from_dict({**cfg.to_dict(), **changes})


def test_to_dense_matches_torch_geometric():
    from torch_geometric.utils import to_dense_batch

    x = torch.randn(9, 3)
    batch = torch.tensor([0, 0, 0, 1, 2, 2, 2, 2, 2])
    got, mask = to_dense(x, batch)
    want, want_mask = to_dense_batch(x, batch)
    assert torch.equal(got, want) and torch.equal(mask, want_mask)
    assert torch.equal(got[mask], x)


def test_context_tokens_invariant_chiral_and_nonlocal(tiny_config, ubiquitin, graph_of):
    cfg = _with(tiny_config, context_layers=2, context_heads=2)
    model = ProtokModel(cfg)
    model(graph_of(ubiquitin), progress=0.0)

    def tokens(chain):
        return model.encode(graph_of(chain))

    assert_invariant(tokens, ubiquitin, n=10)
    assert (tokens(mirror(ubiquitin)) != tokens(ubiquitin)).any()
    # With context a residue's vector depends on residues outside its kNN neighbourhood: moving the
    # C-terminal tail changes the vectors of residues that have no moved residue among their neighbours
    # (the one-layer encoder alone cannot see it).
    far = ubiquitin.coords.copy()
    far[60:] += 1.5
    moved = ubiquitin.with_coords(far)
    g0, g1 = graph_of(ubiquitin), graph_of(moved)
    touched = torch.zeros(len(ubiquitin), dtype=torch.bool)
    for g in (g0, g1):
        src, dst = g.edge_index
        touched[dst[src >= 60]] = True
    touched[60:] = True
    keep = ~touched
    assert keep.sum() >= 10
    with torch.no_grad():
        model.eval()
        z0, z1 = model.embed(g0), model.embed(g1)
        plain = ProtokModel(tiny_config).eval()
        p0, p1 = plain.embed(g0), plain.embed(g1)
    assert not torch.allclose(z0[keep], z1[keep])
    torch.testing.assert_close(p0[keep], p1[keep])


def test_context_runs_on_the_inference_batch(tiny_config, ubiquitin, two_chains_with_breaks, graph_of):
    cfg = _with(tiny_config, context_layers=1, context_heads=2)
    train_model = ProtokModel(cfg)
    chains = [ubiquitin, *two_chains_with_breaks]
    train_model(graph_of(chains[0]), progress=0.0)
    inference_model = ProtokModel(cfg, inference=True)
    inference_model.load_state_dict(train_model.state_dict())
    graphs = [graph_fields(c, k=16) for c in chains]
    for g, c in zip(graphs, chains, strict=True):
        g["num_nodes"] = len(c)
    batch = GraphBatch.from_graphs(graphs)
    with torch.no_grad():
        together = inference_model.encode(batch)
        alone = torch.cat([inference_model.encode(GraphBatch.from_graphs([g])) for g in graphs])
    assert torch.equal(together, alone)


def test_log_separation_changes_only_far_buckets(tiny_config, ubiquitin, graph_of):
    from protok.graph import OTHER_CHAIN_BUCKET, separation_bucket

    sep = torch.tensor([0, 5, -16, 17, -17, 31, 32, 33, 64, 215, 216, 10_000, -10_000, 3])
    same = torch.ones_like(sep, dtype=torch.bool)
    same[-1] = False
    clip = separation_bucket(sep, same, "clip32")
    log = separation_bucket(sep, same, "log")
    assert clip.tolist()[:3] == log.tolist()[:3] == [32, 37, 16]
    assert log.tolist()[3:13] == [49, 15, 52, 53, 53, 57, 63, 64, 64, 0]
    assert clip[-1] == log[-1] == OTHER_CHAIN_BUCKET
    assert int(log.max()) <= OTHER_CHAIN_BUCKET and int(log.min()) >= 0
    with pytest.raises(Exception, match="separation scheme"):
        separation_bucket(sep, same, "linear")
    enc = dataclasses.replace(tiny_config.encoder, separation="log")
    cfg = ModelConfig.from_dict({**tiny_config.to_dict(), "encoder": enc.to_dict()})
    base, logm = ProtokModel(tiny_config).eval(), ProtokModel(cfg).eval()
    logm.load_state_dict(base.state_dict())
    with torch.no_grad():
        assert not torch.equal(base.embed(graph_of(ubiquitin)), logm.embed(graph_of(ubiquitin)))


def test_cosine_codes_are_unit_vectors(tiny_config, ubiquitin, graph_of):
    q = dataclasses.replace(tiny_config.quantizer, cosine=True)
    cfg = ModelConfig.from_dict({**tiny_config.to_dict(), "quantizer": q.to_dict()})
    model = ProtokModel(cfg)
    out = model(graph_of(ubiquitin), progress=1.0)
    assert torch.allclose(model.quantizer.codebook().norm(dim=-1), torch.ones(64), atol=1e-5)
    assert torch.allclose(out.quantized.norm(dim=-1), torch.ones(len(ubiquitin)), atol=1e-5)
    model.eval()
    with torch.no_grad():
        z = model.embed(graph_of(ubiquitin))
        sims = z @ model.quantizer.codebook().t()
    assert torch.equal(model.encode(graph_of(ubiquitin)), sims.argmax(1))


def test_pair_bias_decoder_starts_as_the_plain_one(tiny_config, two_chains_with_breaks, graph_of):
    plain_cfg = tiny_config.decoder
    pair_cfg = dataclasses.replace(plain_cfg, pair_bias=True)
    plain, pair = Decoder(plain_cfg), Decoder(pair_cfg)
    missing = pair.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("pair_bias.") for k in missing)
    batch = graph_of(two_chains_with_breaks)
    x, mask = to_dense(torch.randn(batch.num_nodes, plain_cfg.input_dim), batch.batch)
    ri, _ = to_dense(batch.residue_idx, batch.batch)
    ci, _ = to_dense(batch.chain_idx, batch.batch)
    cb, _ = to_dense(batch.chain_break, batch.batch)
    a = plain(x, ri, ci, cb, mask).coords
    b = pair(x, ri, ci, cb, mask).coords  # zero-initialised bias head: same function at init
    torch.testing.assert_close(a, b)
    loss = pair(x, ri, ci, cb, mask).coords[mask].pow(2).mean()
    loss.backward()
    assert pair.pair_bias.head[2].weight.grad.abs().sum() > 0


def _bb(chain):
    return torch.from_numpy(chain.coords).double()[None]


def test_local_and_violation_losses_on_real_chains(ubiquitin, two_chains_with_breaks):
    target = _bb(ubiquitin)
    mask = torch.ones(1, len(ubiquitin), 4, dtype=torch.bool)
    ci = torch.zeros(1, len(ubiquitin), dtype=torch.long)
    cb = torch.zeros(1, len(ubiquitin), dtype=torch.bool)
    assert float(local_geometry_loss(target, target, mask, ci, cb)) < 1e-10
    assert float(violation_loss(target, mask, ci, cb)) < 0.05  # a real chain is (nearly) valid
    noisy = (target + 0.5 * torch.randn_like(target)).requires_grad_(True)
    loss = local_geometry_loss(noisy, target, mask, ci, cb)
    assert float(loss) > 0.1
    loss.backward()
    assert torch.isfinite(noisy.grad).all()
    squashed = target * 0.5  # CA-CA 1.9 Å: every bond violated, many clashes
    assert float(violation_loss(squashed, mask, ci, cb)) > 1.0
    # bonds across a chain break are not bonds
    brk = cb.clone()
    brk[0, 40] = True
    far = target.clone()
    far[0, 40:] += 30.0
    assert float(violation_loss(far, mask, ci, brk)) < 0.05
    assert float(violation_loss(far, mask, ci, cb)) > 1.0


def test_unclamped_share_phases_in():
    cfg = LossConfig(unclamped_share=0.1, unclamped_start=0.3, unclamped_end=0.6)
    assert unclamped_share(cfg, 0.0) == unclamped_share(cfg, 0.3) == 0.0
    assert unclamped_share(cfg, 0.45) == pytest.approx(0.05)
    assert unclamped_share(cfg, 0.9) == pytest.approx(0.1)
    assert unclamped_share(LossConfig(), 0.9) == 0.0


def test_all_options_together_train(tiny_config, two_chains_with_breaks, graph_of):
    enc = dataclasses.replace(tiny_config.encoder, separation="log")
    q = dataclasses.replace(tiny_config.quantizer, cosine=True)
    dec = dataclasses.replace(tiny_config.decoder, pair_bias=True)
    loss = dataclasses.replace(tiny_config.loss, local_weight=1.0, violation_weight=1.0, unclamped_share=0.1)
    cfg = ModelConfig.from_dict(
        {
            **tiny_config.to_dict(),
            "encoder": enc.to_dict(),
            "quantizer": q.to_dict(),
            "decoder": dataclasses.asdict(dec),
            "loss": dataclasses.asdict(loss),
            "context_layers": 1,
            "context_heads": 2,
        }
    )
    model = ProtokModel(cfg)
    out = model(graph_of(two_chains_with_breaks), progress=0.8)
    assert {"local", "violation", "fape", "distance"} <= set(out.losses)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert model.context.blocks[0].qkv.weight.grad.abs().sum() > 0
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_continuous_ceiling_model_decodes_latents(tiny_config, ubiquitin, graph_of):
    q = dataclasses.replace(tiny_config.quantizer, anneal_start=1.0, anneal_end=1.0)
    cfg = ModelConfig.from_dict({**tiny_config.to_dict(), "quantizer": q.to_dict()})
    model = ProtokModel(cfg)
    assert model.continuous and not ProtokModel(tiny_config).continuous
    g = graph_of(ubiquitin)
    model(g, progress=0.5)
    model.eval()
    with torch.no_grad():
        out = model(g, progress=1.0)
        z = model.embed(g)
    assert torch.equal(out.quantized, z)  # the latents, not the codes
    assert out.indices.min() >= 0  # tokens still exist
