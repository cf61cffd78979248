"""Building blocks both encoder forms share: the dense matrices of e3nn's ``o3.Linear``."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3

from protok.models.encoder_ops import o3_linear_matrix


def test_dense_matrices_equal_e3nn_linear_bits() -> None:
    torch.manual_seed(1)
    # Repeated and interleaved irreps, as the tensor product's unsimplified output has.
    cases = [
        ("9x0e + 3x1o", "32x0e + 8x1o"),
        ("32x0e + 32x1o + 8x1o + 8x0e", "40x0e + 8x1o"),
        ("4x1o + 2x0e", "3x0e + 5x1o"),
    ]
    for ir_in, ir_out in cases:
        lin = o3.Linear(o3.Irreps(ir_in), o3.Irreps(ir_out))
        with torch.no_grad():
            lin.weight.normal_()
        want = lin(torch.eye(lin.irreps_in.dim))
        got = o3_linear_matrix(
            [(m, ir.l) for m, ir in lin.irreps_in],
            [(m, ir.l) for m, ir in lin.irreps_out],
            lin.weight.detach(),
        )
        assert torch.equal(got, want), (ir_in, ir_out)
    # lmax 2 and parities, as the base preset's e3nn Linears (entries with parity: 1e and 1o do not mix)
    for ir_in, ir_out in [
        ("128x0e + 32x1o + 32x2e", "128x0e + 32x1o + 32x2e"),
        ("3x0e + 2x1o + 2x1e", "4x1e + 1x0e"),
    ]:
        lin = o3.Linear(o3.Irreps(ir_in), o3.Irreps(ir_out))
        with torch.no_grad():
            lin.weight.normal_()
        got = o3_linear_matrix(
            [(m, ir.l, ir.p) for m, ir in lin.irreps_in],
            [(m, ir.l, ir.p) for m, ir in lin.irreps_out],
            lin.weight.detach(),
        )
        assert torch.equal(got, lin(torch.eye(lin.irreps_in.dim))), (ir_in, ir_out)
    with pytest.raises(ValueError, match="weight has"):
        o3_linear_matrix([(2, 0)], [(3, 0)], torch.zeros(5))
