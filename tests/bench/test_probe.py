import numpy as np
import pytest

from protok.bench.probe import ProbeConfig, ProbeData, ProbeModel, predict, train_probe
from protok.bench.scores import auroc


def _data(rng, n, k=6, shuffle=False):
    toks, tgts = [], []
    for _ in range(n):
        t = rng.integers(0, k, rng.integers(20, 40))
        y = (t == 2).astype(np.int8)[:, None]  # token 2 marks a binding residue
        if shuffle:
            y = rng.permutation(y)
        toks.append(t)
        tgts.append(y)
    return ProbeData(toks, tgts)


def _score(out, data):
    return auroc(np.concatenate(data.targets)[:, 0], np.concatenate(out)[:, 0])


CFG = ProbeConfig(steps=60, lrs=(3e-3,), seeds=1, eval_every=20, max_len=64, hidden=32)


@pytest.mark.parametrize("shuffle, lo, hi", [(False, 0.95, 1.0), (True, 0.3, 0.7)])
def test_probe_learns_token_signal_and_not_noise(shuffle, lo, hi):
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((6, 8)).astype(np.float32)
    train, valid, test = (
        _data(rng, 40, shuffle=shuffle),
        _data(rng, 10, shuffle=shuffle),
        _data(rng, 20, shuffle=shuffle),
    )
    model, val = train_probe(
        codes, train, valid, kind="binary", out_dim=1, score=_score, lr=3e-3, seed=0, cfg=CFG
    )
    assert lo <= _score(predict(model, test), test) <= hi


def test_probe_lookup_is_frozen_and_undefined_tokens_map_to_zero():
    import torch

    codes = np.arange(12, dtype=np.float32).reshape(3, 4)
    model = ProbeModel(codes, 2, max_len=8, hidden=4)
    assert not any(p is model.table for p in model.parameters())
    np.testing.assert_array_equal(model.table[:3].numpy(), codes)
    assert (model.table[3] == 0).all()
    out = model(torch.tensor([[0, -1, 2]]), torch.ones(1, 3, dtype=torch.bool))
    assert out.shape == (1, 3, 2)


def test_protein_kind_pools():
    rng = np.random.default_rng(1)
    toks = [rng.integers(0, 2, 30) if i % 2 else rng.integers(2, 4, 30) for i in range(40)]
    data = ProbeData(toks, [np.int64(i % 2) for i in range(40)])

    def acc(out, d):
        return float((np.stack(out).argmax(1) == np.asarray(d.targets)).mean())

    model, val = train_probe(
        np.eye(4, dtype=np.float32),
        data,
        data,
        kind="protein",
        out_dim=2,
        score=acc,
        lr=3e-3,
        seed=0,
        cfg=CFG,
    )
    assert val > 0.9
    assert predict(model, data)[0].shape == (2,)
