"""The stacked fast path scores exactly like the fitted scikit-learn heads."""

import numpy as np
import scipy.sparse as sp

from models.heads import MultiLabelHead, SoftmaxHead, StackedLinearHeads


def test_stacked_heads_equal_sklearn_predict_proba():
    rng = np.random.default_rng(0)
    X = sp.random(300, 64, density=0.1, random_state=1, format="csr")
    Y = (rng.random((300, 4)) < 0.3).astype(int)
    Y[:, 3] = 0  # a label never seen: probability 0
    issue = MultiLabelHead(["a", "b", "c", "never"], seed=0).fit(X, Y)
    three = SoftmaxHead(["neg", "neu", "pos"], seed=0).fit(X, list(rng.choice(["neg", "neu", "pos"], 300)))
    two = SoftmaxHead(["critical", "high", "medium", "low"], seed=0).fit(X, list(rng.choice(["high", "low"], 300)))
    fast = StackedLinearHeads(issue, [three, two]).predict_proba(X[:50])
    np.testing.assert_allclose(fast[0], issue.predict_proba(X[:50]), atol=1e-12)
    np.testing.assert_allclose(fast[1], three.predict_proba(X[:50]), atol=1e-12)
    np.testing.assert_allclose(fast[2], two.predict_proba(X[:50]), atol=1e-12)
    assert (fast[0][:, 3] == 0).all() and (fast[2][:, [0, 2]] == 0).all()


def _separable(n=400, d=64, seed=0):
    """Two labels that depend on a few columns each, so a linear head can learn them."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.15, random_state=seed, format="csr")
    dense = X.toarray()
    Y = np.column_stack([dense[:, :4].sum(1) > 0.6, dense[:, 10:14].sum(1) > 0.6, np.zeros(n)]).astype(int)
    return X, Y, rng


def test_hinge_head_scores_are_sigmoid_of_the_svm_margin_and_the_fast_path_agrees():
    X, Y, _rng = _separable()
    head = MultiLabelHead(["a", "b", "never"], C=1.0, seed=0, loss="hinge").fit(X[:300], Y[:300])
    P = head.predict_proba(X[300:])
    margin = head.estimators["a"].decision_function(X[300:])
    np.testing.assert_allclose(P[:, 0], 1 / (1 + np.exp(-margin)))
    assert (P[:, 2] == 0).all()
    # the scores rank the held-out texts: label "a" is separable from these columns
    pos, neg = P[Y[300:, 0] == 1, 0], P[Y[300:, 0] == 0, 0]
    assert pos.mean() > neg.mean() + 0.2
    three = SoftmaxHead(["neg", "neu", "pos"], seed=0).fit(X[:300], list(_rng.choice(["neg", "neu", "pos"], 300)))
    np.testing.assert_allclose(StackedLinearHeads(head, [three]).predict_proba(X[300:])[0], P, atol=1e-12)


def test_hinge_head_is_reproducible_and_differs_from_logistic():
    X, Y, _ = _separable(seed=3)
    a = MultiLabelHead(["a", "b", "never"], seed=7, loss="hinge").fit(X, Y).predict_proba(X)
    b = MultiLabelHead(["a", "b", "never"], seed=7, loss="hinge").fit(X, Y).predict_proba(X)
    logistic = MultiLabelHead(["a", "b", "never"], seed=7).fit(X, Y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - logistic).max() > 1e-3


def test_unknown_loss_is_refused_and_heads_pickled_before_the_option_still_score():
    import pickle

    import pytest

    with pytest.raises(ValueError, match="unknown loss"):
        MultiLabelHead(["a"], loss="squared")
    X, Y, _ = _separable(seed=5)
    head = MultiLabelHead(["a", "b", "never"], seed=0).fit(X, Y)
    del head.__dict__["loss"]  # a head saved by the code before `loss` existed
    old = pickle.loads(pickle.dumps(head))
    np.testing.assert_allclose(old.predict_proba(X), head.predict_proba(X))
    assert old._new_estimator().__class__.__name__ == "LogisticRegression"

