"""Decoder: shapes, ideal geometry, relative positions across chains and breaks, no coordinates in."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from protok.errors import ChainTooLongError
from protok.models.decoder import (
    CO_BOND,
    Decoder,
    DecoderConfig,
    frames_to_backbone,
    gram_schmidt,
    relative_position_buckets,
    segment_ids,
)
from protok.models.losses import (
    backbone_direction_loss,
    backbone_distance_loss,
    distogram_loss,
)
from protok.testing import random_rigid_motion

CFG = DecoderConfig(input_dim=16, d_model=32, n_layers=2, n_heads=2, ffn_mult=2, n_refine=1, pair_dim=8)


def _inputs(lengths: list[int], dim: int = 16, seed: int = 0):
    """Padded batch of single chains with the given lengths."""
    g = torch.Generator().manual_seed(seed)
    b, n = len(lengths), max(lengths)
    codes = torch.randn(b, n, dim, generator=g)
    mask = torch.arange(n)[None] < torch.tensor(lengths)[:, None]
    ri = torch.arange(n).expand(b, n).clone()
    ci = torch.zeros(b, n, dtype=torch.long)
    cb = torch.zeros(b, n, dtype=torch.bool)
    return codes, ri, ci, cb, mask


def test_forward_never_takes_coordinates():
    params = list(inspect.signature(Decoder.forward).parameters)
    assert params == ["self", "codes", "residue_idx", "chain_idx", "chain_break", "mask", "return_distogram"]
    from protok.models.model import ProtokModel

    dec_params = list(inspect.signature(ProtokModel.decode).parameters)
    assert dec_params == ["self", "indices_or_codes", "residue_idx", "chain_idx", "chain_break", "batch"]


def test_output_shapes_and_optional_distogram():
    dec = Decoder(CFG).eval()
    codes, ri, ci, cb, mask = _inputs([30, 17])
    out = dec(codes, ri, ci, cb, mask)
    assert out.coords.shape == (2, 30, 4, 3)
    assert out.rotation.shape == (2, 30, 3, 3) and out.translation.shape == (2, 30, 3)
    assert out.distogram_logits is None
    out = dec(codes, ri, ci, cb, mask, return_distogram=True)
    assert out.distogram_logits.shape == (2, 30, 30, CFG.n_dist_bins)
    assert torch.isfinite(out.coords).all()


def test_ideal_backbone_geometry():
    dec = Decoder(CFG).eval()
    codes, ri, ci, cb, mask = _inputs([25])
    x = dec(codes, ri, ci, cb, mask).coords[0].double()
    n_ca = (x[:, 1] - x[:, 0]).norm(dim=-1)
    ca_c = (x[:, 2] - x[:, 1]).norm(dim=-1)
    c_o = (x[:, 3] - x[:, 2]).norm(dim=-1)
    assert torch.allclose(n_ca, torch.full_like(n_ca, 1.4606), atol=1e-3)  # |(-0.525, 1.363, 0)|
    assert torch.allclose(ca_c, torch.full_like(ca_c, 1.526), atol=1e-4)
    assert torch.allclose(c_o, torch.full_like(c_o, CO_BOND), atol=1e-4)
    u, v = x[:, 0] - x[:, 1], x[:, 2] - x[:, 1]
    angle = torch.rad2deg(torch.acos((u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))))
    assert torch.allclose(angle, torch.full_like(angle, 111.06), atol=0.1)  # ideal N-CA-C


def test_gram_schmidt_gives_proper_rotations():
    g = torch.Generator().manual_seed(1)
    r = gram_schmidt(torch.randn(100, 3, generator=g), torch.randn(100, 3, generator=g))
    eye = torch.eye(3).expand(100, 3, 3)
    assert torch.allclose(r.transpose(-1, -2) @ r, eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(100), atol=1e-5)


def test_frames_to_backbone_is_equivariant():
    g = torch.Generator().manual_seed(2)
    rot = gram_schmidt(torch.randn(10, 3, generator=g), torch.randn(10, 3, generator=g)).double()
    trans = torch.randn(10, 3, generator=g).double()
    o_dir = torch.randn(10, 3, generator=g).double()
    big_r, t = random_rigid_motion(3)
    moved = frames_to_backbone(big_r @ rot, trans @ big_r.T + t, o_dir)
    np.testing.assert_allclose(moved, frames_to_backbone(rot, trans, o_dir) @ big_r.T + t, atol=1e-10)


def test_relative_position_buckets_respect_chains_and_breaks():
    # chain 0: residues 0..5 with a break before residue 3; chain 1: residues 0..3
    ri = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 1, 2, 3]])
    ci = torch.tensor([[0, 0, 0, 0, 0, 0, 1, 1, 1, 1]])
    cb = torch.tensor([[0, 0, 0, 1, 0, 0, 1, 0, 0, 0]], dtype=torch.bool)
    assert segment_ids(ci, cb).tolist() == [[0, 0, 0, 1, 1, 1, 2, 2, 2, 2]]
    clip = 2
    b = relative_position_buckets(ri, ci, cb, clip)[0]
    assert b[0, 1] == clip + 1 and b[1, 0] == clip - 1 and b[0, 0] == clip
    assert b[0, 2] == 2 * clip  # clipped
    assert b[2, 3] == 2 * clip + 1 and b[3, 2] == 2 * clip + 1  # across the break
    assert b[0, 6] == 2 * clip + 2 and b[9, 5] == 2 * clip + 2  # different chains
    assert b[6, 9] == 2 * clip  # within chain 1 (its first residue starts a new segment)
    # a chain change alone (no break flag) also starts a new chain bucket
    cb2 = torch.zeros_like(cb)
    assert relative_position_buckets(ri, ci, cb2, clip)[0, 5, 6] == 2 * clip + 2


def test_chain_break_changes_the_decoding():
    dec = Decoder(CFG).eval()
    with torch.no_grad():
        dec.rel_bias.weight.normal_()  # the zero init would hide the bias
    codes, ri, ci, cb, mask = _inputs([20])
    a = dec(codes, ri, ci, cb, mask).coords
    cb2 = cb.clone()
    cb2[0, 10] = True
    b = dec(codes, ri, ci, cb2, mask).coords
    assert not torch.allclose(a, b, atol=1e-4)


def test_padding_does_not_change_a_chain():
    dec = Decoder(CFG).eval()
    codes, ri, ci, cb, mask = _inputs([12, 40], seed=3)
    both = dec(codes, ri, ci, cb, mask).coords
    alone = dec(codes[:1, :12], ri[:1, :12], ci[:1, :12], cb[:1, :12], mask[:1, :12]).coords
    torch.testing.assert_close(both[0, :12], alone[0], atol=1e-4, rtol=1e-4)


def test_any_length_decodes_and_limit_raises():
    dec = Decoder(CFG).eval()
    codes, ri, ci, cb, mask = _inputs([1])
    assert dec(codes, ri, ci, cb, mask).coords.shape == (1, 1, 4, 3)
    codes, ri, ci, cb, mask = _inputs([600])  # far beyond rel_pos_clip
    assert torch.isfinite(dec(codes, ri, ci, cb, mask).coords).all()
    limited = Decoder(DecoderConfig(**{**CFG.__dict__, "max_length": 100})).eval()
    with pytest.raises(ChainTooLongError, match="max_length=100"):
        limited(codes, ri, ci, cb, mask)


def test_losses_are_zero_for_the_target_and_rigidly_invariant(ubiquitin):
    x = torch.tensor(np.nan_to_num(ubiquitin.coords), dtype=torch.float64)[None]
    m = torch.tensor(ubiquitin.atom_mask)[None]
    ci = torch.zeros(1, len(ubiquitin), dtype=torch.long)
    cb = torch.tensor(ubiquitin.chain_breaks)[None]
    assert float(backbone_distance_loss(x, x, m)) == 0.0
    assert float(backbone_direction_loss(x, x, m, ci, cb)) < 1e-20
    rot, t = random_rigid_motion(5)
    y = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)
    y_moved = y @ rot.T + t
    for fn in (
        lambda p: backbone_distance_loss(p, x, m),
        lambda p: backbone_direction_loss(p, x, m, ci, cb),
    ):
        assert float(fn(y)) > 0
        assert float(fn(y_moved)) == pytest.approx(float(fn(y)), rel=1e-9)
    # distogram: a one-hot-ish prediction of the right bins beats a uniform one
    d = torch.cdist(x[:, :, 1], x[:, :, 1])
    edges = torch.linspace(2.3125, 21.6875, 63, dtype=x.dtype)
    good = torch.nn.functional.one_hot(torch.bucketize(d, edges), 64).to(x.dtype) * 10
    assert float(distogram_loss(good, x[:, :, 1], m[..., 1])) < 0.01
    assert float(distogram_loss(torch.zeros_like(good), x[:, :, 1], m[..., 1])) == pytest.approx(np.log(64))


def test_mirror_image_is_penalised_by_the_direction_loss(ubiquitin):
    """Distances cannot tell a mirror image; the direction loss (cross products) must."""
    x = torch.tensor(np.nan_to_num(ubiquitin.coords), dtype=torch.float64)[None]
    m = torch.tensor(ubiquitin.atom_mask)[None]
    ci = torch.zeros(1, len(ubiquitin), dtype=torch.long)
    cb = torch.tensor(ubiquitin.chain_breaks)[None]
    mirrored = x * torch.tensor([-1.0, 1.0, 1.0], dtype=x.dtype)
    assert float(backbone_distance_loss(mirrored, x, m)) < 1e-20
    assert float(backbone_direction_loss(mirrored, x, m, ci, cb)) > 0.1


def test_fape_and_aligned_rmsd_are_zero_at_target_invariant_and_chiral(ubiquitin):
    from protok.models.losses import aligned_rmsd_loss, fape_loss, frames_from_backbone

    x = torch.tensor(np.nan_to_num(ubiquitin.coords), dtype=torch.float64)[None]
    m = torch.tensor(ubiquitin.atom_mask)[None]
    rot, t = random_rigid_motion(9)
    moved = x @ rot.T + t
    r, tr = frames_from_backbone(moved)
    assert float(fape_loss(r, tr, moved, x, m)) < 1e-3  # sqrt(eps) floor only
    assert float(aligned_rmsd_loss(moved, x, m)) < 1e-2
    mirrored = x * torch.tensor([-1.0, 1.0, 1.0], dtype=x.dtype)
    r_m, t_m = frames_from_backbone(mirrored)
    assert float(fape_loss(r_m, t_m, mirrored, x, m)) > 0.3
    assert float(aligned_rmsd_loss(mirrored, x, m)) > 1.0
    # the aligned loss has the gradient of the RMSD w.r.t. the prediction (finite differences)
    y = (
        x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    ).requires_grad_()
    loss = aligned_rmsd_loss(y, x, m)
    (g,) = torch.autograd.grad(loss, y)
    from protok.metrics import backbone_rmsd

    e = torch.zeros_like(x)
    e[0, 10, 1, 2] = 1e-5
    fd = (backbone_rmsd(y.detach() + e, x, m) - backbone_rmsd(y.detach() - e, x, m)) / 2e-5
    assert float(g[0, 10, 1, 2]) == pytest.approx(float(fd[0]), rel=1e-3, abs=1e-7)
