"""End-to-end: a tiny subset of the quick suite on real data, twice (the second run only re-scores)."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from protok.bench import build_adapter, get_suite, run_bench
from protok.bench.probe import ProbeConfig
from protok.bench.results import RESULT_COLUMNS


def _tiny():
    return replace(
        get_suite("quick"),
        name="tiny",
        n_scop=32,
        n_binding=16,
        n_flex_files=12,
        n_pairs=8,
        n_robust=3,
        n_recon=2,
        max_per_fold=6,
        max_len=250,
        probe=ProbeConfig(steps=20, lrs=(3e-3, 1e-3), seeds=3, eval_every=10, max_len=250, hidden=64),
    )


def test_run_bench_tiny_then_cached(data_dir, tmp_path, monkeypatch):
    suite = _tiny()
    adapters = [build_adapter(n, n) for n in ("aa", "dssp", "3di")]
    cmd = "protok bench --suite tiny -o out"
    stages: list[str] = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        df = run_bench(
            adapters,
            suite,
            tmp_path / "out",
            data_dir=data_dir,
            cache_dir=tmp_path / "cache",
            workers=2,
            command=cmd,
            progress=stages.append,
        )
        assert torch.get_num_threads() == 2  # one thread while forking probe workers, then restored
    finally:
        torch.set_num_threads(before)
    # one line per stage, first where the flexibility task's full-atom files come from (shipped with protok
    # unless the Debian package is installed)
    from protok.bench.sources import default_flex_dir

    assert stages[0].startswith("flexibility task: 12 full-atom files ")
    assert ("shipped with protok" in stages[0]) == (default_flex_dir().name == "flex")
    assert any(s.startswith("preparing the data") for s in stages)
    assert [s.split(":")[0] for s in stages if s.startswith("tokenizer ")] == [
        "tokenizer 1/3", "tokenizer 2/3", "tokenizer 3/3"
    ]  # fmt: skip
    assert any(s.startswith("training probes") for s in stages) and stages[-1].startswith("writing ")
    flex = df[(df.task == "flexibility") & (df.metric == "bfactor_spearman")]
    assert set(flex.tokenizer) == {"aa", "3di"} and flex["value"].notna().all()  # no DSSP labels there
    assert list(pd.read_csv(tmp_path / "out" / "results.csv").columns) == list(RESULT_COLUMNS)
    for f in (
        "report.md",
        "utilisation.png",
        "robustness.png",
        "distinctiveness.png",
        "sensitivity.png",
        "run.json",
    ):
        assert (tmp_path / "out" / f).stat().st_size > 0
    report = (tmp_path / "out" / "report.md").read_text()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["command"] == cmd and f"Command: `{cmd}`" in report and run["runtime_s"] > 0
    assert all(f"| {a.name} |" in report for a in adapters) and "**" in report
    got = set(df.task)
    assert {
        "binding",
        "ss",
        "rsa_depth",
        "fold",
        "sensitivity",
        "distinctiveness",
        "efficiency",
        "robustness",
    } <= got
    # probe rows carry seeds' std and test-split sizes; 3 seeds -> finite std
    ss = df[(df.task == "ss") & (df.metric == "ss8_macro_f1")]
    assert set(ss.split) == {"fold_test", "superfamily_test"} and np.isfinite(ss["std"]).all()
    # the DSSP tokenizer *is* the SS label: its probe must beat amino-acid identity by far
    f1 = ss[ss.split == "fold_test"].set_index("tokenizer")["value"]
    assert f1["dssp"] > f1["aa"] + 0.2
    # robustness: 3Di/random unchanged by a rigid motion; DSSP (stored labels) not applicable
    rob = df[(df.task == "robustness") & (df.split == "rigid")].set_index("tokenizer")["value"]
    assert rob["3di"] < 0.01 and "dssp" not in rob.index
    noise = df[(df.task == "robustness") & (df.split == "noise_0.5")].set_index("tokenizer")["value"]
    assert noise["3di"] > rob["3di"]
    # second run: prepared data, tokens, TM-scores and perturbed tokens all come from the cache
    import protok.bench.dataset as dataset_mod
    import protok.bench.runner as runner_mod

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(dataset_mod, "_build", boom)
    monkeypatch.setattr(runner_mod, "tm_scores", boom)
    adapters = adapters[::2]  # aa and 3di: enough to show re-scoring is deterministic
    for ad in adapters:
        monkeypatch.setattr(ad, "encode", boom)
    df = df[df.tokenizer.isin(["-", "aa", "3di"])]
    df2 = run_bench(adapters, suite, tmp_path / "out2", data_dir=data_dir, cache_dir=tmp_path / "cache")
    a = df[df.task != "runtime"].reset_index(drop=True)
    b = df2[df2.task != "runtime"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)  # deterministic re-scoring; 2 worker processes == 1


@pytest.mark.slow
def test_run_bench_with_protok_checkpoint(data_dir, tmp_path, random_checkpoint):
    suite = replace(_tiny(), n_scop=16, n_binding=8, n_flex_files=0)
    ad = build_adapter("rand", "protok", str(random_checkpoint))
    df = run_bench([ad], suite, tmp_path / "out", data_dir=data_dir, cache_dir=tmp_path / "cache")
    rec = df[df.task == "reconstruction"].set_index("metric")["value"]
    assert {"ca_rmsd", "backbone_rmsd", "tm_score", "lddt_ca"} <= set(rec.index)
    rigid = df[(df.task == "robustness") & (df.split == "rigid")]["value"].iloc[0]
    assert rigid < 0.01


def test_flex_note_says_how_to_enable_the_task(tmp_path):
    from pathlib import Path

    from protok.bench.runner import flex_note
    from protok.bench.sources import SHIPPED_FLEX

    assert "apt-get install theseus-examples" in flex_note(tmp_path, 40)  # an empty folder: skipped
    assert flex_note(tmp_path, 40).startswith("flexibility task skipped")
    assert flex_note(Path(SHIPPED_FLEX), 40) == (
        "flexibility task: 39 full-atom files shipped with protok (the suite takes up to 40; for more, apt-get "
        "install theseus-examples (/usr/share/doc/theseus/examples) or pass --flex-dir)"
    )
    assert flex_note(Path(SHIPPED_FLEX), 20) == "flexibility task: 20 full-atom files shipped with protok"


def test_reconstruction_and_robustness_chains_are_drawn_from_the_bench_splits(data_dir, tmp_path):
    from protok.bench.cache import ArrayCache
    from protok.bench.dataset import prepare_dataset
    from protok.bench.runner import reconstruction_ids, robustness_ids

    suite = _tiny()
    ds = prepare_dataset(suite, data_dir=data_dir, cache=ArrayCache(tmp_path / "cache"))
    recon = reconstruction_ids(ds, suite)
    fold_test = set(ds.splits["scop"].tests["fold_test"])
    assert len(recon) == suite.n_recon and recon == sorted(recon) and set(recon) <= fold_test
    assert recon == sorted(fold_test)[: suite.n_recon]
    robust = robustness_ids(ds, suite)
    assert len(robust) == suite.n_robust and set(robust) <= set(ds.scop)
