"""Post-processing from head outputs to the public result schema.

This is the only place results are shaped, and the pyfunc wrapper calls it, so the API, the CLI and
any batch engine that loads the MLflow model return identical JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.analyzer import AnalyzerBase, HeadOutputs, urgency_level
from models.policy import PriorityPolicy
from models.taxonomy import Taxonomy


def build_results(ids: Sequence[str], texts: Sequence[str], outputs: HeadOutputs, taxonomy: Taxonomy) -> list[dict]:
    policy = PriorityPolicy(taxonomy)
    issue_ids = taxonomy.issue_type_ids
    sentiments = taxonomy.sentiment_ids
    levels = taxonomy.urgency_ids
    i_neg, i_pos = sentiments.index("negative"), sentiments.index("positive")
    results = []
    for row, item_id in enumerate(ids):
        probs = outputs.issue_proba[row]
        above = [j for j in np.argsort(-probs) if probs[j] >= outputs.issue_thresholds[j]]
        issue_types = [
            {"label": issue_ids[j], "name": taxonomy.issue_name(issue_ids[j]), "score": round(float(probs[j]), 4)}
            for j in above
        ]
        s = outputs.sentiment_proba[row]
        u = outputs.urgency_proba[row]
        level = urgency_level(u, outputs.urgency_cuts, levels)
        decision = policy.decide(level, float(u[levels.index(level)]), [x["label"] for x in issue_types], texts[row])
        results.append(
            {
                "id": str(item_id),
                "issue_types": issue_types,
                "sentiment": {
                    "label": sentiments[int(s.argmax())],
                    "score": round(float(s[i_pos] - s[i_neg]), 4),
                },
                "urgency": {
                    "level": decision.urgency,
                    "score": round(AnalyzerBase.urgency_score(u, levels), 4),
                },
                "priority": decision.priority,
                "reasons": decision.reasons,
            }
        )
    return results
