"""The fitting behind ``assistant/calibration.json`` (``evals/calibrate.py``): logistic
regressions whose feature weights are kept >= 0."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from evals.calibrate import _logistic


def sample(weights: list[float], bias: float, n: int = 4000, seed: int = 3,
           ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(weights)))
    p = 1 / (1 + np.exp(-(x @ np.array(weights) + bias)))
    return x, (rng.random(n) < p).astype(float)


def test_where_every_weight_is_positive_it_is_plain_logistic_regression() -> None:
    x, y = sample([2.0, 0.5, 1.0], bias=-0.7)
    ours = _logistic(x, y, l2=0.1, bias=True)
    theirs = LogisticRegression(C=10.0, max_iter=5000).fit(x, y)
    assert np.allclose(ours, np.r_[theirs.coef_[0], theirs.intercept_[0]], atol=2e-3)


def test_a_feature_that_counts_against_the_label_gets_weight_zero_not_negative() -> None:
    x, y = sample([2.0, -1.5, 1.0], bias=0.3)
    weights = _logistic(x, y, l2=0.1, bias=True)
    assert weights[1] == 0.0
    assert weights[0] > 1.0 and weights[2] > 0.5  # attenuated: x1 is now noise to them
    assert weights[3] != 0.0  # the bias is free


def test_without_a_bias_it_returns_only_the_feature_weights() -> None:
    x, y = sample([1.0, -2.0], bias=0.0)
    weights = _logistic(x, y, l2=0.1, bias=False)
    assert weights.shape == (2,) and weights[0] > 0.5 and weights[1] == 0.0
