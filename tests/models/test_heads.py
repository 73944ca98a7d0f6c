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
