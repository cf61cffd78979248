"""The plain-torch encoder computes the e3nn encoder's function bit for bit, from the same weights."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from protok.graph import GraphBatch, build_graph
from protok.models import ModelConfig, ProtokModel, encoder_torch, load_model, save_model
from protok.models.encoder import Encoder, EncoderConfig
from protok.models.encoder_torch import PlainTorchEncoder
from protok.structures import read_structure

SMALL = EncoderConfig(scalar_channels=32, vector_channels=8, num_layers=3, radial_hidden=32, out_dim=64)


def _pair(cfg: EncoderConfig, seed: int = 0) -> tuple[Encoder, PlainTorchEncoder]:
    torch.manual_seed(seed)
    enc = Encoder(cfg).eval()
    with torch.no_grad():  # random weights everywhere (e3nn's are unit normal already; biases are zero)
        for p in enc.parameters():
            p.normal_(0.0, 0.5)
    plain = PlainTorchEncoder(cfg).eval()
    plain.load_state_dict(enc.state_dict())
    return enc, plain


@pytest.fixture(scope="module")
def batch(structures_dir: Path) -> Batch:
    """Real chains: ubiquitin, two chains of 2xhe with breaks and an incomplete residue, lysozyme."""
    chains = [read_structure(structures_dir / "1ubi.pdb").chains[0]]
    chains += list(read_structure(structures_dir / "2xhe.pdb.gz").chains[:2])
    chains += [read_structure(structures_dir / "3mht.pdb").chains[0]]
    return Batch.from_data_list([build_graph(c) for c in chains])


def test_same_parameter_and_buffer_names_and_shapes() -> None:
    enc, plain = _pair(SMALL)
    a = {k: tuple(v.shape) for k, v in enc.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in plain.state_dict().items()}
    assert a == b


def test_gate_constants_are_e3nns() -> None:
    from e3nn.math import normalize2mom

    assert encoder_torch._SILU_SCALE == normalize2mom(torch.nn.functional.silu).cst
    assert encoder_torch._SIGMOID_SCALE == normalize2mom(torch.sigmoid).cst


def test_gate_equals_e3nn_gate() -> None:
    enc, plain = _pair(SMALL)
    x = torch.randn(4000, 64) * 3
    with torch.inference_mode():
        assert torch.equal(plain._gate(x), enc.layers[0].gate(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_equals_e3nn_encoder_bits(batch: Batch, dtype: torch.dtype) -> None:
    enc, plain = _pair(SMALL)
    enc, plain = enc.to(dtype), plain.to(dtype)
    with torch.inference_mode():
        want = enc(batch)
        assert torch.equal(plain(batch), want)
        # the same through the light batcher
        graphs = [batch.get_example(i) for i in range(batch.num_graphs)]
        assert torch.equal(plain(GraphBatch.from_graphs(graphs)), want)


def test_forward_equals_on_irregular_layout(batch: Batch) -> None:
    """Masked residues lose their edges: the neighbour table pads, the edge-wise path runs."""
    enc, plain = _pair(SMALL, seed=3)
    g = batch.clone()
    g.node_mask = g.node_mask.clone()
    g.node_mask[::7] = False
    with torch.inference_mode():
        assert torch.equal(plain(g), enc(g))


def test_gradients_match_e3nn(batch: Batch) -> None:
    """Not the tokenizer's use, but the module stays a correct torch function: gradients agree."""
    enc, plain = _pair(SMALL, seed=5)
    enc, plain = enc.double(), plain.double()
    enc(batch).square().sum().backward()
    plain(batch).square().sum().backward()
    for (name, p), q in zip(enc.named_parameters(), plain.parameters(), strict=True):
        assert p.grad is not None and q.grad is not None
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-9, atol=1e-9, msg=name)


def test_lmax2_is_not_supported() -> None:
    cfg = replace(SMALL, lmax=2)
    assert not PlainTorchEncoder.supports(cfg)
    with pytest.raises(ValueError, match="lmax = 1"):
        PlainTorchEncoder(cfg)
    model = ProtokModel(ModelConfig(encoder=cfg), inference=True)
    assert isinstance(model.encoder, Encoder)


def test_inference_model_round_trips_through_a_checkpoint(tmp_path: Path, batch: Batch) -> None:
    torch.manual_seed(0)
    full = ProtokModel(ModelConfig(encoder=SMALL)).eval()
    folder = save_model(full, tmp_path / "m")
    plain = load_model(folder, inference=True)
    assert isinstance(plain.encoder, PlainTorchEncoder)
    with torch.inference_mode():
        assert torch.equal(plain.encode(batch), full.encode(batch))
    # and a checkpoint saved from the inference form loads into the training form
    again = load_model(save_model(plain, tmp_path / "again"))
    assert isinstance(again.encoder, Encoder)
    with torch.inference_mode():
        assert torch.equal(again.encode(batch), full.encode(batch))


def test_tokenizing_imports_neither_e3nn_nor_torch_geometric(structures_dir: Path) -> None:
    code = (
        "import sys, protok.tokenizer as t\n"
        f"t.load().encode({str(structures_dir / '1ubi.pdb')!r})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('e3nn', 'torch_geometric'))\n"
        "print(bad[:5])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_pickled_tokenizer_encodes_in_a_fresh_process(tmp_path: Path, structures_dir: Path) -> None:
    """The gate's constants are not module state that only ``__init__`` fills: a tokenizer pickled here
    (as Ray or a spawned pool would send it) encodes the same tokens in a new interpreter."""
    import pickle

    import protok

    tok = protok.load()
    want = tok.encode(structures_dir / "1ubi.pdb")[0].tokens.tolist()
    (tmp_path / "tok.pkl").write_bytes(pickle.dumps(tok))
    code = (
        "import pickle, sys\n"
        f"tok = pickle.loads(open({str(tmp_path / 'tok.pkl')!r}, 'rb').read())\n"
        f"print(tok.encode({str(structures_dir / '1ubi.pdb')!r})[0].tokens.tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(want), out.stderr[-2000:]


def test_fresh_inference_model_is_initialised_like_e3nn() -> None:
    """Built without a checkpoint, the e3nn-form weights are unit normal (as e3nn initialises them), not zero."""
    torch.manual_seed(0)
    plain = PlainTorchEncoder(SMALL)
    for w in (plain.embed.weight, plain.layers[0].lin_in.weight, plain.layers[0].lin_out.weight):
        assert 0.8 < float(w.std()) < 1.2


def test_model_loaded_in_inference_mode_encodes(batch: Batch) -> None:
    """Weights created under ``torch.inference_mode()`` have no version counter to key the dense-matrix
    cache on: both encoder forms still run, with the same tokens."""
    with torch.inference_mode():
        plain = load_model("protok-provq-small-v1", inference=True)
        full = load_model("protok-provq-small-v1")
        assert torch.equal(plain.encode(batch), full.encode(batch))
