"""The reconstruction task scores decoded backbones with protok.metrics."""

from __future__ import annotations

import numpy as np

from protok.bench import adapters as A
from protok.bench.item import BenchItem
from protok.bench.sources import promod3_item
from protok.bench.tasks import reconstruction
from protok.metrics import ca_rmsd
from protok.testing import apply_rigid, random_rigid_motion


class _Echo(A.AminoAcidAdapter):
    """Decodes to the input backbone moved rigidly, or shifted by ``noise`` Å along x."""

    can_decode = True

    def __init__(self, noise: float = 0.0) -> None:
        super().__init__("echo")
        self.noise = noise

    def decode(self, tokens: np.ndarray, item: BenchItem) -> np.ndarray:
        moved = apply_rigid(item.chain, *random_rigid_motion(7)).coords
        moved = np.asarray(moved, np.float32).copy()
        moved[::2, :, 0] += self.noise
        return moved


def _rows(adapter: A.TokenizerAdapter, items: list[BenchItem]) -> dict[str, float]:
    tokens = {it.id: adapter.encode(it) for it in items}
    rows = reconstruction(adapter, items, tokens, tokenizer=adapter.name)
    assert all(r.task == "reconstruction" and r.n == len(items) for r in rows)
    return {r.metric: r.value for r in rows}


def test_perfect_decoding_scores_perfectly_and_noise_does_not(promod3):
    items = [promod3_item(promod3, str(promod3.ids[i])) for i in (0, 5)]
    perfect = _rows(_Echo(), items)
    assert set(perfect) == {"ca_rmsd", "backbone_rmsd", "tm_score", "lddt_ca"}
    assert perfect["ca_rmsd"] < 1e-3 and perfect["backbone_rmsd"] < 1e-3
    assert perfect["tm_score"] > 0.999 and perfect["lddt_ca"] > 0.999
    noisy = _rows(_Echo(noise=2.0), items)
    expected = np.mean([ca_rmsd(_Echo(2.0).decode(np.zeros(0), it), it.chain.coords) for it in items])
    assert abs(noisy["ca_rmsd"] - expected) < 1e-6 and noisy["ca_rmsd"] > 0.5
    assert noisy["tm_score"] < perfect["tm_score"] and noisy["lddt_ca"] < perfect["lddt_ca"]
