"""benchmarks/ss_probe.py: the bench's SS task alone, on the smoke suite's real chains."""

from __future__ import annotations


def test_dssp_oracle_beats_the_amino_acid_control(benchmark_script, shared_data) -> None:
    probe = benchmark_script("ss_probe")
    rows = {r["tokenizer"]: r for r in probe.ss_scores("dssp,aa", suite_name="smoke")}
    for split in ("fold_test", "superfamily_test"):
        dssp, aa = rows["dssp"][f"{split}/ss8_macro_f1"], rows["aa"][f"{split}/ss8_macro_f1"]
        assert 0.0 <= aa < dssp <= 1.0
        assert rows["aa"][f"{split}/ss3_macro_f1"] < rows["dssp"][f"{split}/ss3_macro_f1"]
