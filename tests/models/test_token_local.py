"""The token-local head (protok.models.token_local): targets on real chains, learning, and where it lives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch_geometric.utils import to_dense_batch

from protok.errors import CheckpointError
from protok.models import ProtokModel, load_model, save_model
from protok.models.io import load_weights_into
from protok.models.token_local import (
    DSSP_TURNS,
    TOKEN_LOCAL_ANGLES,
    WINDOW_DISTANCE_SCALE,
    dssp_local_targets,
    dssp_target_count,
    token_dssp_loss,
    token_local_loss,
    token_local_targets,
    token_window_loss,
    token_window_offsets,
    token_window_targets,
)


def _dense(batch):
    b = batch.batch
    coords, _ = to_dense_batch(batch.coords, b)
    mask, pad = to_dense_batch(batch.atom_mask.bool(), b)
    ci, _ = to_dense_batch(batch.chain_idx, b)
    cb, _ = to_dense_batch(batch.chain_break, b)
    return coords, mask & pad[..., None], ci, cb


def _with_head(cfg, weight: float = 1.0, window: int = 0, span: bool = False, dssp: bool = False):
    loss = dataclasses.replace(
        cfg.loss,
        token_local_weight=weight,
        token_local_window=window,
        token_local_span=span,
        token_local_dssp=dssp,
    )
    return dataclasses.replace(cfg, loss=loss)


def test_targets_match_biotite_on_ubiquitin(structures_dir, ubiquitin, graph_of):
    import biotite.structure as bs
    from biotite.structure.io.pdb import PDBFile

    from protok.bench.adapters import local_geometry_features

    atoms = PDBFile.read(str(structures_dir / "1ubi.pdb")).get_structure(model=1)
    atoms = atoms[bs.filter_amino_acids(atoms) & (atoms.chain_id == "A")]
    phi, psi, omega = bs.dihedral_backbone(atoms)
    assert len(phi) == len(ubiquitin) == 76
    targets, valid = token_local_targets(*_dense(graph_of(ubiquitin)))
    targets, valid = targets[0].numpy(), valid[0].numpy()
    for k, ref in enumerate((phi, psi, omega)):
        ok = np.isfinite(ref)
        assert np.array_equal(valid[:, k], ok), TOKEN_LOCAL_ANGLES[k]
        np.testing.assert_allclose(targets[ok, k, 0], np.cos(ref[ok]), atol=1e-4)
        np.testing.assert_allclose(targets[ok, k, 1], np.sin(ref[ok]), atol=1e-4)
    # CA virtual angle and dihedral as the benchmark's local geometry features compute them
    feats = local_geometry_features(ubiquitin.coords)
    assert valid[1:-1, 3].all() and not valid[[0, -1], 3].any()
    np.testing.assert_allclose(targets[1:-1, 3, 0], feats[1:-1, 4], atol=1e-4)
    np.testing.assert_allclose(np.hypot(*targets[:, 3].T)[valid[:, 3]], 1.0, atol=1e-5)
    assert valid[1:-2, 4].all() and not valid[[0, -2, -1], 4].any()
    np.testing.assert_allclose(targets[1:-2, 4, 0], feats[1:-2, 6], atol=1e-4)
    np.testing.assert_allclose(targets[1:-2, 4, 1], feats[1:-2, 5], atol=1e-4)


def test_targets_are_masked_at_chain_ends_and_breaks(two_chains_with_breaks, graph_of):
    a, b = two_chains_with_breaks
    assert a.chain_breaks[30] and b.chain_breaks[14]
    _, valid = token_local_targets(*_dense(graph_of([a, b])))
    v = valid[0]
    phi, psi, omega, bend, ca_dih = (v[:, k] for k in range(5))
    assert not phi[0] and not phi[30] and phi[31]  # no residue before the start or the break
    assert not psi[29] and not omega[29] and psi[28]
    assert not bend[29] and not bend[30] and bend[28] and bend[31]
    assert not ca_dih[28] and not ca_dih[29] and not ca_dih[30] and ca_dih[27] and ca_dih[31]
    end = len(a)  # chain B starts right after chain A: nothing is bonded across
    assert not psi[end - 1] and not phi[end] and not ca_dih[end - 2] and not bend[end]
    assert not v[len(a) + len(b) :].any()  # padding


def test_loss_is_zero_for_perfect_predictions_and_masks_the_rest(ubiquitin, graph_of):
    targets, valid = token_local_targets(*_dense(graph_of(ubiquitin)))
    assert float(token_local_loss(targets, targets, valid)) == 0.0
    junk = torch.where(valid[..., None], targets, torch.full_like(targets, 7.0))
    assert float(token_local_loss(junk, targets, valid)) == 0.0
    assert float(token_local_loss(torch.zeros_like(targets), targets, valid)) == pytest.approx(1.0, abs=1e-4)


def test_term_decreases_over_a_few_steps(tiny_config, ubiquitin, graph_of):
    batch = graph_of(ubiquitin)
    model = ProtokModel(_with_head(tiny_config)).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    seen = []
    for _ in range(12):
        out = model(batch, progress=0.5)
        seen.append(float(out.losses["token_local"]))
        opt.zero_grad()
        out.losses["token_local"].backward()
        opt.step()
    assert seen[-1] < 0.8 * seen[0], seen
    with torch.no_grad():  # also scored in eval mode (validation), from the quantized vectors
        assert "token_local" in model.eval()(batch, progress=1.0).losses


def test_head_under_bf16_autocast(tiny_config, ubiquitin, graph_of):
    model = ProtokModel(_with_head(tiny_config))
    assert model.token_local_head is not None
    targets, valid = token_local_targets(*_dense(graph_of(ubiquitin)))
    x = torch.randn(1, len(ubiquitin), 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = model.token_local_head(x)
        loss = token_local_loss(pred, targets, valid)
    assert pred.shape == (1, len(ubiquitin), 5, 2) and loss.dtype == torch.float32 and torch.isfinite(loss)


def test_head_is_training_only_and_left_out_of_released_weights(tmp_path, tiny_config, ubiquitin, graph_of):
    assert ProtokModel(tiny_config).token_local_head is None  # off by default: no parameters added
    cfg = _with_head(tiny_config)
    assert ProtokModel(cfg, inference=True).token_local_head is None
    model = ProtokModel(cfg)
    batch = graph_of(ubiquitin)
    model.train()(batch, progress=0.5)
    head_keys = {k for k in model.state_dict() if k.startswith("token_local_head.")}
    assert head_keys

    ckpt = save_model(model, tmp_path / "ckpt")
    shipped = save_model(model, tmp_path / "shipped", training_heads=False)
    assert head_keys <= set(load_file(str(ckpt / "model.safetensors")))
    assert not head_keys & set(load_file(str(shipped / "model.safetensors")))
    want = model.encode(batch)
    for folder in (ckpt, shipped):
        for inference in (False, True):
            assert torch.equal(load_model(folder, inference=inference).encode(batch), want)
    # training resume needs the head's weights: strict by default
    with pytest.raises(CheckpointError, match="token_local_head"):
        load_weights_into(ProtokModel(cfg), shipped / "model.safetensors")


def test_window_targets_are_ca_distances_on_ubiquitin(ubiquitin, graph_of):
    assert token_window_offsets(4) == (-4, -3, -2, 2, 3, 4) and token_window_offsets(1) == ()
    targets, valid = token_window_targets(*_dense(graph_of(ubiquitin)), window=4)
    targets, valid = targets[0].numpy(), valid[0].numpy()
    ca = ubiquitin.coords[:, 1].astype(np.float64)
    n = len(ca)
    for col, k in enumerate(token_window_offsets(4)):
        inside = np.array([0 <= i + k < n for i in range(n)])
        assert np.array_equal(valid[:, col], inside), k  # one unbroken chain: valid wherever i + k exists
        want = np.linalg.norm(ca[np.flatnonzero(inside) + k] - ca[inside], axis=1) / WINDOW_DISTANCE_SCALE
        np.testing.assert_allclose(targets[inside, col], want, atol=1e-5)
        assert (targets[~inside, col] == 0).all()
    with pytest.raises(ValueError, match="window"):
        token_window_targets(*_dense(graph_of(ubiquitin)), window=1)


def test_span_targets_are_ca_distances_across_residue_i_and_fix_the_bend_angle(ubiquitin, graph_of):
    rows, _ = token_window_targets(*_dense(graph_of(ubiquitin)), window=4)
    targets, valid = token_window_targets(*_dense(graph_of(ubiquitin)), window=4, span=True)
    targets, valid = targets[0].numpy(), valid[0].numpy()
    assert targets.shape == (76, 9)
    np.testing.assert_array_equal(targets[:, :6], rows[0].numpy())  # the row distances come first, unchanged
    ca = ubiquitin.coords[:, 1].astype(np.float64)
    n = len(ca)
    for col, k in enumerate(range(2, 5), start=6):
        inside = np.array([k <= i < n - k for i in range(n)])
        assert np.array_equal(valid[:, col], inside), k
        i = np.flatnonzero(inside)
        np.testing.assert_allclose(
            targets[i, col], np.linalg.norm(ca[i + k] - ca[i - k], axis=1) / WINDOW_DISTANCE_SCALE, atol=1e-5
        )
    # DSSP's bend angle kappa at i from the three distances of i-2, i, i+2 (law of cosines) equals the angle
    # between CA(i-2)->CA(i) and CA(i)->CA(i+2)
    i = np.arange(2, n - 2)
    a, b = targets[i, 2] * WINDOW_DISTANCE_SCALE, targets[i, 3] * WINDOW_DISTANCE_SCALE  # offsets -2, +2
    c = targets[i, 6] * WINDOW_DISTANCE_SCALE
    kappa = 180.0 - np.degrees(np.arccos(np.clip((a**2 + b**2 - c**2) / (2 * a * b), -1, 1)))
    u, w = ca[i] - ca[i - 2], ca[i + 2] - ca[i]
    want = np.degrees(np.arccos((u * w).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(w, axis=1)))
    np.testing.assert_allclose(kappa, want, atol=0.05)
    assert (kappa > 70).any() and (kappa < 70).any()  # ubiquitin has bends and non-bends


def test_window_targets_never_reach_across_breaks_or_chains(two_chains_with_breaks, graph_of):
    a, b = two_chains_with_breaks  # a breaks between residues 29 and 30
    _, valid = token_window_targets(*_dense(graph_of([a, b])), window=3)
    v = valid[0]
    col = {k: i for i, k in enumerate(token_window_offsets(3))}
    assert v[27, col[2]] and not v[28, col[2]] and not v[29, col[2]] and v[30, col[2]]
    assert not v[27, col[3]] and v[26, col[3]] and v[30, col[3]]
    assert not v[31, col[-2]] and v[32, col[-2]] and not v[32, col[-3]] and v[33, col[-3]]
    end = len(a)
    assert (
        not v[end - 1, col[2]] and not v[end - 2, col[2]] and not v[end, col[-2]] and not v[end + 1, col[-2]]
    )
    assert not v[len(a) + len(b) :].any()
    _, valid = token_window_targets(*_dense(graph_of([a, b])), window=3, span=True)
    s2 = valid[0][:, 4]  # CA(i-2)-CA(i+2): needs i-2 .. i+2 bonded
    assert s2[27] and not s2[28] and not s2[31] and s2[32] and not s2[end - 2] and not s2[end + 1]


def test_window_head_learns_and_warm_starts_from_a_checkpoint_without_it(
    tmp_path, tiny_config, ubiquitin, graph_of
):
    batch = graph_of(ubiquitin)
    model = ProtokModel(_with_head(tiny_config, window=4)).train()
    targets, valid = token_window_targets(*_dense(batch), window=4)
    assert float(token_window_loss(targets, targets, valid)) == 0.0
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    seen = []
    for _ in range(12):
        out = model(batch, progress=0.5)
        seen.append(float(out.losses["token_window"]))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert seen[-1] < 0.8 * seen[0], seen
    assert "token_window" not in ProtokModel(_with_head(tiny_config)).train()(batch, progress=0.5).losses
    # a checkpoint trained without the window (angles only) warm-starts a model with it: the window part
    # of the training-only head starts fresh, everything else is copied
    plain = save_model(ProtokModel(_with_head(tiny_config)), tmp_path / "plain")
    windowed = ProtokModel(_with_head(tiny_config, window=4))
    load_weights_into(windowed, plain / "model.safetensors", require_training_heads=False)
    with pytest.raises(CheckpointError, match="window_net"):
        load_weights_into(ProtokModel(_with_head(tiny_config, window=4)), plain / "model.safetensors")
    # a windowed checkpoint warm-starts a model whose window also has span distances (another output
    # shape): the window's last layer starts fresh, every tensor of the same shape is copied; strict refuses
    rows = save_model(ProtokModel(_with_head(tiny_config, window=4)), tmp_path / "rows")
    spanned = ProtokModel(_with_head(tiny_config, window=4, span=True))
    before = {k: v.clone() for k, v in spanned.state_dict().items()}
    load_weights_into(spanned, rows / "model.safetensors", require_training_heads=False)
    saved = load_file(str(rows / "model.safetensors"))
    for k, v in spanned.state_dict().items():
        if k in saved and saved[k].shape == v.shape:
            assert torch.equal(v, saved[k]), k
        else:
            assert k.startswith("token_local_head.window_net") and torch.equal(v, before[k]), k
    assert spanned.token_local_head.distances(torch.zeros(1, tiny_config.quantizer.dim)).shape == (1, 9)
    with pytest.raises(CheckpointError, match="shape"):
        load_weights_into(
            ProtokModel(_with_head(tiny_config, window=4, span=True)), rows / "model.safetensors"
        )


def test_dssp_criteria_agree_with_the_data_sets_dssp(promod3_npz):
    """Turns and bends computed from the backbone against the DSSP string stored with each real chain: DSSP's
    T needs a turn over the residue, S a bend without one, coil (C) neither."""
    from protok.structures import Promod3Chains

    data = Promod3Chains(promod3_npz)
    picks = np.flatnonzero((data.lengths >= 60) & (data.lengths <= 250))[:40]
    seen: dict[str, list[np.ndarray]] = {c: [] for c in "HTSC"}
    for i in picks:
        chain = data.chain(int(i))
        batch = torch.as_tensor(np.nan_to_num(chain.coords), dtype=torch.float32)[None]
        mask = torch.as_tensor(np.isfinite(chain.coords).all(-1))[None]
        n = batch.shape[1]
        targets, valid = dssp_local_targets(
            batch, mask, torch.zeros(1, n, dtype=torch.long), torch.zeros(1, n, dtype=torch.bool)
        )
        targets, valid = targets[0].numpy() > 0, valid[0].numpy()
        assert targets.shape == (n, dssp_target_count()) == (n, 16) and not targets[~valid].any()
        inside, col = np.zeros(n, bool), 0  # residue strictly inside some turn s .. s + t
        for t in DSSP_TURNS:
            for start in range(-t, 1):
                if -t < start < 0:
                    inside |= targets[:, col]
                col += 1
        labels = np.array(list(data.dssp(int(i))))
        for c in seen:
            sel = (labels == c) & valid[:, -1]
            seen[c].append(np.stack([inside[sel], targets[sel, -1]], -1))
    share = {c: np.concatenate(v).mean(0) for c, v in seen.items()}  # (inside a turn, bend)
    assert share["T"][0] > 0.98 and share["H"][0] > 0.98, share
    assert share["S"][1] > 0.98 and share["S"][0] < 0.05, share
    assert share["C"][0] < 0.02 and share["C"][1] < 0.02, share


def test_dssp_head_learns_the_criteria(tiny_config, ubiquitin, graph_of):
    batch = graph_of(ubiquitin)
    targets, valid = dssp_local_targets(*_dense(batch))
    assert 0 < float(targets[valid].mean()) < 1  # ubiquitin has turns and bends, and places without
    logit = torch.logit(targets.clamp(0.01, 0.99))
    assert float(token_dssp_loss(logit, targets, valid)) < 0.02
    # the one bend criterion weighs as much as the fifteen turns: right turns, bends at even odds
    unsure = logit.clone()
    unsure[..., -1] = 0.0
    got, want = float(token_dssp_loss(unsure, targets, valid)), 0.5 * (-np.log(0.99) + np.log(2.0))
    assert abs(got - want) < 1e-4, (got, want)
    model = ProtokModel(_with_head(tiny_config, window=4, span=True, dssp=True)).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    seen = []
    for _ in range(12):
        out = model(batch, progress=0.5)
        seen.append(float(out.losses["token_dssp"].detach()))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert seen[-1] < 0.8 * seen[0], seen


def test_span_without_a_window_is_a_config_error():
    from protok.errors import ConfigError
    from protok.models.losses import LossConfig

    with pytest.raises(ConfigError, match="token_local_span needs token_local_window >= 2"):
        LossConfig(token_local_weight=1.0, token_local_span=True)
    assert LossConfig(token_local_weight=1.0, token_local_window=2, token_local_span=True).token_local_span
