"""Post-processing from head outputs to the public result schema.

This is the only place results are shaped, and the pyfunc wrapper calls it, so the API, the CLI and
any batch engine that loads the MLflow model return identical JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from models.analyzer import URGENCY_SCALE, HeadOutputs, urgency_level_indices
from models.policy import NO_CONTEXT, PriorityPolicy, TicketContext
from models.taxonomy import Taxonomy

# Naive timestamps are read as China Standard Time: the service's customers write from there.
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


def parse_created_at(value, now: datetime | None = None) -> datetime:
    """An aware datetime from an ISO string / datetime / missing value (then ``now``)."""
    if value is None or value != value or (isinstance(value, str) and not value.strip()):  # None, NaN, NaT, ""
        return now or datetime.now(UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value if value.tzinfo else value.replace(tzinfo=DEFAULT_TZ)


def sla_due(taxonomy: Taxonomy, priority: str, created_at: datetime) -> dict[str, str]:
    level = taxonomy.priority_level(priority)
    return {
        "first_response_due": (created_at + timedelta(hours=level.first_response_hours)).isoformat(),
        "resolution_due": (created_at + timedelta(hours=level.resolution_hours)).isoformat(),
    }


def build_results(ids: Sequence[str], texts: Sequence[str], outputs: HeadOutputs, taxonomy: Taxonomy,
                  contexts: Sequence[TicketContext] | None = None, created_at: Sequence | None = None,
                  model_version: str | None = None, now: datetime | None = None) -> list[dict]:
    """Result objects in input order. Everything that is arithmetic on the head outputs (label order,
    urgency level and score, sentiment label and score) is done once per batch in NumPy; the loop only
    applies the policy and shapes dicts, which is what keeps batch scoring above 5,000 texts/s."""
    policy = PriorityPolicy(taxonomy)
    issue_ids = taxonomy.issue_type_ids
    issue_names = [taxonomy.issue_name(i) for i in issue_ids]
    sentiments = taxonomy.sentiment_ids
    levels = taxonomy.urgency_ids
    i_neg, i_pos = sentiments.index("negative"), sentiments.index("positive")
    now = now or datetime.now(UTC)
    n = len(ids)
    issue_proba = np.asarray(outputs.issue_proba, dtype=float).reshape(n, len(issue_ids))
    # labels above their threshold, most probable first (stable order for equal probabilities)
    order = np.argsort(-issue_proba, axis=1, kind="stable").tolist()
    above = (issue_proba >= outputs.issue_thresholds).tolist()
    issue_scores = issue_proba.tolist()
    s = np.asarray(outputs.sentiment_proba, dtype=float).reshape(n, len(sentiments))
    sentiment_labels = s.argmax(axis=1).tolist()
    sentiment_scores = (s[:, i_pos] - s[:, i_neg]).tolist()
    u = np.asarray(outputs.urgency_proba, dtype=float).reshape(n, len(levels))
    level_index = urgency_level_indices(u, outputs.urgency_cuts).tolist()
    level_confidence = u[np.arange(n), level_index].tolist() if n else []
    urgency_scores = (u @ np.array([URGENCY_SCALE[lv] for lv in levels])).tolist()
    results = []
    for row in range(n):
        chosen = [j for j in order[row] if above[row][j]]
        labels = [issue_ids[j] for j in chosen]
        level = levels[level_index[row]]
        context = contexts[row] if contexts is not None else NO_CONTEXT
        decision = policy.decide(level, level_confidence[row], labels, texts[row], context,
                                 sentiments[sentiment_labels[row]])
        opened = parse_created_at(created_at[row] if created_at is not None else None, now)
        results.append(
            {
                "id": str(ids[row]),
                "issue_types": [
                    {"label": issue_ids[j], "name": issue_names[j], "score": round(issue_scores[row][j], 4)}
                    for j in chosen
                ],
                "sentiment": {
                    "label": sentiments[sentiment_labels[row]],
                    "score": round(sentiment_scores[row], 4),
                },
                "urgency": {
                    "level": decision.urgency,
                    "score": round(urgency_scores[row], 4),
                },
                "priority": decision.priority,
                "sla": sla_due(taxonomy, decision.priority, opened),
                "escalate_to_human": decision.escalate,
                "reasons": decision.reasons,
                "keywords": outputs.keywords[row] if outputs.keywords is not None else [],
                "suggested_actions": taxonomy.suggested_actions(labels, decision.urgency),
                "model_version": model_version,
            }
        )
    return results
