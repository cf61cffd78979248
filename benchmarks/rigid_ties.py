"""Which tokens change under the benchmark's rigid motion, and are they float32 near-ties?

For each model, over the robustness chains of a bench suite (the same chains, seeds and rigid motions as
``protok bench``), it reports the residues whose token differs after the motion, each with the gap between
the distances of its latent to the nearest and second-nearest code, next to the smallest and median gap over
all residues. A flip at a gap of ~1e-5 is float32 rounding of the moved coordinates meeting a near-tie in the
nearest-code search, not a loss of invariance.

    python benchmarks/rigid_ties.py --suite full --model protok-provq-small-v2.4-fast
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from protok.bench.cache import ArrayCache, default_cache_dir
from protok.bench.dataset import prepare_dataset
from protok.bench.runner import default_data_dir, robustness_ids
from protok.bench.suites import get_suite
from protok.bench.tasks.robustness import perturbations
from protok.tokenizer import load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="full")
    ap.add_argument("--model", action="append", required=True, help="model name or folder (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    suite = get_suite(args.suite)
    ds = prepare_dataset(suite, data_dir=default_data_dir(), cache=ArrayCache(default_cache_dir()))
    robust_ids = robustness_ids(ds, suite)
    for name in args.model:
        tok = load(name)
        codebook = tok.model.quantizer.codebook().detach().double()
        gaps, flips = [], []
        for j, cid in enumerate(robust_ids):
            item = ds.items[cid]
            z = torch.as_tensor(tok.embed(item.chain)[0]).double()
            top2 = torch.cdist(z, codebook).topk(2, largest=False).values
            gap = (top2[:, 1] - top2[:, 0]).numpy()
            gaps.append(gap)
            moved = item.perturbed(perturbations(item.chain.coords, suite.noise_levels, j)["rigid"])
            a = np.asarray(tok.encode(item.chain)[0].tokens)
            b = np.asarray(tok.encode(moved.chain)[0].tokens)
            flips += [(cid, int(i), float(gap[i])) for i in np.flatnonzero(a != b)]
        g = np.concatenate(gaps)
        print(
            f"{name}: {len(g)} residues, min gap {g.min():.3g}, median gap {np.median(g):.3g}, flips {flips}"
        )


if __name__ == "__main__":
    main()
