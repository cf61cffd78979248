"""Prepared benchmark data: built from the one ProMod3 loader, restored unchanged from the cache."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from protok.bench.cache import ArrayCache
from protok.bench.dataset import prepare_dataset
from protok.bench.sources import promod3_item
from protok.bench.suites import get_suite


def test_prepared_items_are_the_loaders_chains_and_survive_the_cache(data_dir, promod3, tmp_path):
    suite = replace(get_suite("smoke"), n_scop=12, n_binding=6, n_flex_files=0)
    cache = ArrayCache(tmp_path / "cache")
    built = prepare_dataset(suite, data_dir=data_dir, cache=cache, flex_dir=None)
    restored = prepare_dataset(suite, data_dir=data_dir, cache=cache, flex_dir=None)
    assert cache.misses == 1 and cache.hits == 1
    assert sorted(built.items) == sorted(restored.items) and len(built.items) >= 12
    for cid, item in restored.items.items():
        ref = promod3_item(promod3, cid)
        c, r = item.chain, ref.chain
        assert np.array_equal(c.coords.view(np.uint32), r.coords.view(np.uint32)), cid
        np.testing.assert_array_equal(c.res_ids, r.res_ids)  # deposited numbering, not 1..L
        assert (c.auth_chain_id, c.label_chain_id, c.sequence, c.source) == (
            r.auth_chain_id,
            r.label_chain_id,
            r.sequence,
            r.source,
        )
        assert set(item.annotations) == {"dssp", "sasa", "depth"}
        for name, values in ref.annotations.items():
            np.testing.assert_array_equal(item.annotations[name], values)
    assert any(item.chain.res_ids[0] != 1 for item in restored.items.values())
