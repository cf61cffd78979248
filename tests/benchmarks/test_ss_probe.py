"""benchmarks/ss_probe.py: the bench's SS task alone, on the smoke suite's real chains."""

from __future__ import annotations


def test_dssp_oracle_beats_the_amino_acid_control(benchmark_script, shared_data) -> None:
    probe = benchmark_script("ss_probe")
    rows = {r["tokenizer"]: r for r in probe.ss_scores("dssp,aa", suite_name="smoke")}
    for split in ("fold_test", "superfamily_test"):
        dssp, aa = rows["dssp"][f"{split}/ss8_macro_f1"], rows["aa"][f"{split}/ss8_macro_f1"]
        assert 0.0 <= aa < dssp <= 1.0
        assert rows["aa"][f"{split}/ss3_macro_f1"] < rows["dssp"][f"{split}/ss3_macro_f1"]


def test_purity_of_the_dssp_oracle_is_perfect(benchmark_script, shared_data) -> None:
    """The DSSP tokenizer's tokens are the states: nothing left unsaid, every state's majority F1 is 1."""
    probe = benchmark_script("ss_probe")
    rows = {r["tokenizer"]: r for r in probe.ss_scores("dssp,aa", suite_name="smoke")}
    dssp, aa = rows["dssp"], rows["aa"]
    assert dssp["H(SS8|token)"] == 0.0 and dssp["majority_ss8_macro_f1"] == 1.0
    by_state = dssp["majority_ss8_f1_by_state"]
    assert set(by_state) == set("HGIEBTSC")
    assert all(v == 1.0 for v in by_state.values() if v == v)  # NaN: a state absent from the test chains
    assert aa["H(SS8|token)"] > 1.0 and aa["majority_ss8_f1_by_state"]["H"] < 1.0
