"""ProtokModel on real chains: forward/backward, encode/decode, learning, save/load, typed errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from protok.errors import CheckpointError, ConfigError, ModelNotFoundError
from protok.graph import build_graph
from protok.models import (
    MODEL_PRESETS,
    ModelConfig,
    ProtokModel,
    list_models,
    load_model,
    read_config,
    save_model,
)
from protok.testing import assert_invariant, mirror


def test_config_json_round_trip(tiny_config):
    for cfg in [tiny_config, *MODEL_PRESETS.values()]:
        text = json.dumps(cfg.to_dict())
        back = ModelConfig.from_dict(json.loads(text))
        assert back.to_dict() == cfg.to_dict()


def test_config_errors(tiny_config):
    d = tiny_config.to_dict()
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_dict({**d, "extra": 1})
    with pytest.raises(ConfigError, match="DecoderConfig"):
        ModelConfig.from_dict({**d, "decoder": {**d["decoder"], "width": 3}})
    with pytest.raises(ConfigError, match="input_dim"):
        ModelConfig.from_dict({**d, "decoder": {**d["decoder"], "input_dim": 99}})
    with pytest.raises(ConfigError, match="unknown model preset"):
        ModelConfig.preset("huge")


def test_presets_build():
    small = ProtokModel(ModelConfig.preset("small"))
    assert small.codebook_size == 512
    assert sum(p.numel() for p in small.parameters()) < 5_000_000


def test_forward_outputs_and_gradients(tiny_config, two_chains_with_breaks, ubiquitin):
    model = ProtokModel(tiny_config)
    g1 = build_graph(two_chains_with_breaks, k=16)
    g2 = build_graph(ubiquitin, k=16)
    batch = Batch.from_data_list([g1, g2])
    n = batch.num_nodes
    out = model(batch, progress=0.5)
    assert out.indices.shape == (n,) and out.indices.dtype == torch.long
    assert out.pred_coords.shape == (n, 4, 3)
    assert out.quantized.shape == (n, tiny_config.quantizer.dim)
    assert torch.isfinite(out.loss)
    assert {"distance", "direction", "distogram"} <= set(out.losses)
    assert any(k.startswith("q_") for k in out.losses)
    for key in ("ca_rmsd", "bb_rmsd", "lddt_ca", "perplexity", "usage"):
        assert key in out.stats and np.isfinite(out.stats[key])
    assert ((out.indices >= 0) == batch.node_mask).all()
    out.loss.backward()
    for name in ("encoder", "decoder"):
        grads = [p.grad for p in getattr(model, name).parameters() if p.grad is not None]
        assert grads and any(float(g.abs().sum()) > 0 for g in grads), name


def test_loss_goes_down_on_one_real_chain(tiny_config, ubiquitin, graph_of):
    torch.manual_seed(0)
    model = ProtokModel(tiny_config)
    batch = graph_of(ubiquitin)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses, rmsds = [], []
    for step in range(15):
        out = model(batch, progress=step / 15)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
        rmsds.append(out.stats["ca_rmsd"])
    assert np.mean(losses[-3:]) < 0.8 * losses[0], losses
    assert np.mean(rmsds[-3:]) < rmsds[0] - 1.0, rmsds


def test_encode_deterministic_discrete_and_invariant(tiny_config, ubiquitin, graph_of):
    model = ProtokModel(tiny_config)
    model(graph_of(ubiquitin), progress=0.0)  # data-dependent codebook init happens here
    model.train()  # encode must switch to eval by itself and restore the mode

    def tokens(chain):
        return model.encode(graph_of(chain))

    a, b = tokens(ubiquitin), tokens(ubiquitin)
    assert torch.equal(a, b) and a.dtype == torch.long and a.shape == (len(ubiquitin),)
    assert model.training
    assert_invariant(tokens, ubiquitin, n=20)
    assert (tokens(mirror(ubiquitin)) != a).float().mean() > 0.1


def test_decode_equals_forward_in_eval(tiny_config, two_chains_with_breaks, graph_of):
    model = ProtokModel(tiny_config)
    batch = graph_of(two_chains_with_breaks)
    model(batch, progress=0.0)
    model.eval()
    with torch.no_grad():
        out = model(batch, progress=1.0)
        idx = model.encode(batch)
        xyz = model.decode(idx, batch.residue_idx, batch.chain_idx, batch.chain_break, batch.batch)
        xyz_codes = model.decode(out.quantized, batch.residue_idx, batch.chain_idx, batch.chain_break)
    assert torch.equal(idx, out.indices)
    torch.testing.assert_close(xyz, out.pred_coords)
    torch.testing.assert_close(xyz_codes, out.pred_coords)
    with pytest.raises(ValueError, match="token indices"):
        model.decode(idx + 1000, batch.residue_idx, batch.chain_idx, batch.chain_break)


def test_save_load_round_trip(tmp_path, tiny_config, ubiquitin, graph_of, monkeypatch):
    model = ProtokModel(tiny_config)
    batch = graph_of(ubiquitin)
    model(batch, progress=0.2)
    model.eval()
    folder = save_model(model, tmp_path / "m", card={"trained_on": "test"})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]

    def no_torch_load(*a, **k):
        raise AssertionError("torch.load must never be used")

    monkeypatch.setattr(torch, "load", no_torch_load)
    loaded = load_model(folder)
    assert not loaded.training and loaded.card == {"trained_on": "test"}
    cfg, meta = read_config(folder)
    assert cfg.to_dict() == tiny_config.to_dict() and meta["format_version"] == 1
    idx = model.encode(batch)
    assert torch.equal(loaded.encode(batch), idx)
    args = (batch.residue_idx, batch.chain_idx, batch.chain_break)
    with torch.no_grad():
        assert torch.equal(loaded.decode(idx, *args), model.decode(idx, *args))


def test_corrupt_or_mismatched_checkpoints_raise_typed_errors(tmp_path, tiny_config):
    model = ProtokModel(tiny_config)
    folder = save_model(model, tmp_path / "m")
    weights = folder / "model.safetensors"
    good = weights.read_bytes()

    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="safetensors"):
        load_model(folder)
    weights.write_bytes(b"\x80\x04pickle, not safetensors")
    with pytest.raises(CheckpointError):
        load_model(folder)
    weights.unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_model(folder)
    weights.write_bytes(good)

    cfg_path = folder / "config.json"
    meta = json.loads(cfg_path.read_text())
    cfg_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_model(folder)
    bigger = json.loads(json.dumps(meta))
    bigger["config"]["decoder"]["d_model"] = 64
    cfg_path.write_text(json.dumps(bigger))
    with pytest.raises(CheckpointError, match="shape"):
        load_model(folder)
    newer = {**meta, "format_version": 99}
    cfg_path.write_text(json.dumps(newer))
    with pytest.raises(CheckpointError, match="format_version"):
        load_model(folder)
    cfg_path.write_text(json.dumps(meta))
    assert isinstance(load_model(folder), ProtokModel)


def test_unknown_or_missing_models(tmp_path):
    with pytest.raises(ModelNotFoundError, match="registered"):
        load_model("no-such-model-v9")
    assert "protok-provq-small-v0" in list_models()
    from protok.models.registry import WEIGHTS_DIR, available_models

    if "protok-provq-small-v0" not in available_models():
        with pytest.raises(ModelNotFoundError, match="not installed"):
            load_model("protok-provq-small-v0")
    assert WEIGHTS_DIR.name == "weights"
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(tmp_path / "empty")
