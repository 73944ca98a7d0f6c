"""Turns a stored classification into a ticketing outbox event (inside the same transaction)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from inference.outbox import enqueue
from inference.pii import mask_pii
from inference.ticketing.base import TriageEvent
from models.settings import Settings

_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


def triage_event(request_id: str, item: dict, result: dict) -> TriageEvent:
    sla = result.get("sla") or {}
    return TriageEvent(
        idempotency_key=f"triage:{request_id}:{item['id']}",
        item_id=item["id"],
        text=mask_pii(item["text"]),
        priority=result["priority"],
        issue_types=[x["label"] for x in result["issue_types"]],
        issue_type_names=[x["name"] for x in result["issue_types"]],
        sentiment=result["sentiment"]["label"],
        sentiment_score=result["sentiment"]["score"],
        urgency=result["urgency"]["level"],
        model_version=str(result.get("model_version") or ""),
        first_response_due=sla.get("first_response_due"),
        resolution_due=sla.get("resolution_due"),
        reasons=[mask_pii(r) for r in result["reasons"]],
        suggested_actions=list(result.get("suggested_actions", [])),
        escalate_to_human=bool(result.get("escalate_to_human")),
        product_id=item.get("product_id"),
        external_ticket_id=item.get("ticket_id"),
    )


def make_triage_hook(settings: Settings):
    """A record hook for ``Services.record_hooks`` that enqueues triage for the configured connector."""
    connector = settings.ticketing_connector
    threshold = _RANK.get(settings.ticketing_min_priority, 4)

    def hook(session: Session, request_id: str, items: list[dict], results: list[dict]) -> None:
        for item, result in zip(items, results, strict=True):
            if not item.get("push_to_ticketing", True) or _RANK[result["priority"]] > threshold:
                continue
            event = triage_event(request_id, item, result)
            enqueue(session, kind="triage", connector=connector, event_key=event.idempotency_key,
                    subject_id=item.get("ticket_id") or f"item:{request_id}:{item['id']}", payload=event.to_dict())

    return hook
