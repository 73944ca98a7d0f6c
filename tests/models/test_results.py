"""Result building: the per-batch arithmetic gives what the per-row definitions give."""

import numpy as np

from models.analyzer import AnalyzerBase, HeadOutputs, urgency_level, urgency_level_indices
from models.results import build_results
from models.taxonomy import load_taxonomy
from tests.conftest import REPO_ROOT

LEVELS = ["critical", "high", "medium", "low"]


def test_vectorised_urgency_levels_equal_the_row_rule():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4) * 0.5, size=400)
    P[:5] = [[0.25] * 4, [1, 0, 0, 0], [0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.02, 0.0, 0.0, 0.98]]
    for cuts in (None, np.array([0.1, 0.3, 0.5]), np.array([0.02, 0.02, 0.02]), np.array([0.98, 0.98, 0.98])):
        rows = [LEVELS.index(urgency_level(p, cuts, LEVELS)) for p in P]
        assert urgency_level_indices(P, cuts).tolist() == rows


def test_batch_fields_equal_per_row_arithmetic():
    tax = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")
    rng = np.random.default_rng(1)
    n, k = 50, len(tax.issue_type_ids)
    out = HeadOutputs(issue_proba=rng.random((n, k)), issue_thresholds=np.full(k, 0.6),
                      sentiment_proba=rng.dirichlet(np.ones(3), size=n), urgency_proba=rng.dirichlet(np.ones(4), size=n),
                      urgency_cuts=np.array([0.2, 0.4, 0.5]))
    out.issue_proba[0] = 0.7  # ties keep taxonomy order
    results = build_results([f"r{i}" for i in range(n)], ["好"] * n, out, tax)
    sent = tax.sentiment_ids
    for i, r in enumerate(results):
        above = [j for j in np.argsort(-out.issue_proba[i], kind="stable") if out.issue_proba[i, j] >= 0.6]
        assert [x["label"] for x in r["issue_types"]] == [tax.issue_type_ids[j] for j in above]
        assert [x["score"] for x in r["issue_types"]] == [round(float(out.issue_proba[i, j]), 4) for j in above]
        s = out.sentiment_proba[i]
        assert r["sentiment"] == {"label": sent[int(s.argmax())],
                                  "score": round(float(s[sent.index("positive")] - s[sent.index("negative")]), 4)}
        assert r["urgency"]["score"] == round(AnalyzerBase.urgency_score(out.urgency_proba[i], tax.urgency_ids), 4)
    assert [x["label"] for x in results[0]["issue_types"]] == tax.issue_type_ids
    assert build_results([], [], HeadOutputs(np.zeros((0, k)), np.full(k, 0.5), np.zeros((0, 3)), np.zeros((0, 4))),
                         tax) == []
