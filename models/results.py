"""Post-processing from head outputs to the public result schema.

This is the only place results are shaped, and the pyfunc wrapper calls it, so the API, the CLI and
any batch engine that loads the MLflow model return identical JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from models.analyzer import AnalyzerBase, HeadOutputs, urgency_level
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
    policy = PriorityPolicy(taxonomy)
    issue_ids = taxonomy.issue_type_ids
    sentiments = taxonomy.sentiment_ids
    levels = taxonomy.urgency_ids
    i_neg, i_pos = sentiments.index("negative"), sentiments.index("positive")
    now = now or datetime.now(UTC)
    results = []
    for row, item_id in enumerate(ids):
        probs = outputs.issue_proba[row]
        above = [j for j in np.argsort(-probs) if probs[j] >= outputs.issue_thresholds[j]]
        labels = [issue_ids[j] for j in above]
        issue_types = [
            {"label": issue_ids[j], "name": taxonomy.issue_name(issue_ids[j]), "score": round(float(probs[j]), 4)}
            for j in above
        ]
        s = outputs.sentiment_proba[row]
        u = outputs.urgency_proba[row]
        level = urgency_level(u, outputs.urgency_cuts, levels)
        context = contexts[row] if contexts is not None else NO_CONTEXT
        decision = policy.decide(level, float(u[levels.index(level)]), labels, texts[row], context)
        opened = parse_created_at(created_at[row] if created_at is not None else None, now)
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
                "sla": sla_due(taxonomy, decision.priority, opened),
                "escalate_to_human": decision.escalate,
                "reasons": decision.reasons,
                "keywords": outputs.keywords[row] if outputs.keywords is not None else [],
                "suggested_actions": taxonomy.suggested_actions(labels, decision.urgency),
                "model_version": model_version,
            }
        )
    return results
