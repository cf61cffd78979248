import numpy as np
import pytest

from protok.bench import scores as m


def test_auroc_known_values():
    y = np.array([0, 0, 1, 1])
    assert m.auroc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert m.auroc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert m.auroc(y, np.zeros(4)) == 0.5
    assert m.auroc(y, np.array([0.1, 0.5, 0.4, 0.9])) == 0.75
    assert np.isnan(m.auroc(np.ones(3), np.arange(3)))


def test_macro_f1_and_correlations():
    assert m.macro_f1(np.array([0, 1, 2]), np.array([0, 1, 2])) == 1.0
    # class 0: tp1 fp0 fn1 -> 2/3; class 1: tp1 fp1 fn0 -> 2/3
    assert m.macro_f1(np.array([0, 0, 1]), np.array([0, 1, 1])) == pytest.approx(2 / 3)
    x = np.arange(10.0)
    assert m.spearman(x, x**3) == pytest.approx(1.0)
    assert m.pearson(x, -x) == pytest.approx(-1.0)
    assert np.isnan(m.spearman(x, np.ones(10)))


def test_efficiency_metrics():
    uniform = np.tile(np.arange(8), 10)
    assert m.utilisation_rate(uniform, 16) == 0.5
    assert m.perplexity(uniform, 16) == pytest.approx(8.0)
    assert m.perplexity(np.zeros(5, int), 4) == pytest.approx(1.0)
    mean, std = m.per_protein_perplexity([np.array([0, 1]), np.array([2, 2])], 4)
    assert mean == pytest.approx(1.5) and std == pytest.approx(0.5)
    codes = np.eye(4)
    # merging the two rare codes into kept ones removes entropy: MUV < 0 (extra codes add entropy)
    assert m.marginal_utility(np.array([0] * 5 + [1] * 5 + [2, 3]), codes) < 0
    assert np.isnan(m.marginal_utility(np.zeros(4, int), codes))


def test_cosine_and_change_share():
    c = m.pairwise_cosine(np.array([[1.0, 0], [0, 2.0], [-3.0, 0], [0, 0]]))
    assert c[0, 1] == pytest.approx(0) and c[0, 2] == pytest.approx(-1) and c[3, 3] == 0
    share, n = m.change_share(np.array([0, 1, 2, -1]), np.array([0, 2, 2, 5]))
    assert n == 3 and share == pytest.approx(1 / 3)
    assert m.change_count(np.array([0, 1, 2, -1]), np.array([0, 2, 2, 5])) == (1, 3)
    assert m.change_count(np.array([-1]), np.array([3])) == (0, 0)
    assert m.weighted_mean_std(np.array([0.0, 1.0]), np.array([1.0, 3.0]))[0] == pytest.approx(0.75)
