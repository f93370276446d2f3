"""The meaning vote's logistic regression, fitted with the dense columns apart, is the
model scikit-learn fits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.sparse import csr_matrix, hstack
from scipy.sparse import random as sparse_random

from bot.nlu.linear import fit_multinomial_logistic


def problem(seed=0, n=300, dense=8, sparse=200, classes=5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    embedding = rng.normal(size=(n, dense)) + labels[:, None] * 0.3  # some signal
    ngrams = sparse_random(n, sparse, density=0.05, random_state=seed, format="csr")
    return hstack([csr_matrix(embedding), ngrams]).tocsr(), np.array([f"label{i}" for i in labels])


def sklearn_fit(features, labels, C, max_iter):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(C=C, max_iter=max_iter).fit(features, labels)


@pytest.mark.parametrize("max_iter", [5, 1000])  # stopped early, and converged
def test_the_same_model_as_scikit_learn(max_iter):
    features, labels = problem()
    expected = sklearn_fit(features, labels, 3.0, max_iter)
    classes, coef, intercept = fit_multinomial_logistic(features, labels, 3.0, max_iter, dense_columns=8)
    assert list(classes) == list(expected.classes_)
    np.testing.assert_allclose(coef, expected.coef_, atol=1e-6)
    np.testing.assert_allclose(intercept, expected.intercept_, atol=1e-6)


def test_a_dense_array_is_all_dense_columns():
    features, labels = problem(seed=1, sparse=0)
    dense = features.toarray()
    expected = sklearn_fit(dense, labels, 1.0, 1000)
    classes, coef, intercept = fit_multinomial_logistic(dense, labels, 1.0, 1000)
    np.testing.assert_allclose(coef, expected.coef_, atol=1e-6)
    predicted = classes[np.argmax(dense @ coef.T + intercept, axis=1)]
    assert (predicted == expected.predict(dense)).all()


def test_less_memory_reaches_the_same_optimum():
    features, labels = problem(seed=2)
    _, full, _ = fit_multinomial_logistic(features, labels, 3.0, 3000, dense_columns=8)
    _, lean, _ = fit_multinomial_logistic(features, labels, 3.0, 3000, dense_columns=8, memory=3)
    np.testing.assert_allclose(lean, full, atol=1e-3)
