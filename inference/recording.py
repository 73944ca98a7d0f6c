"""Stores a classified batch: the masked classifications, the idempotent response and (when a
ticketing connector is configured) the outbox events, all in ONE transaction, so either everything
about a request is kept or nothing is and the caller gets an error to retry."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import HTTPException
from sqlalchemy import insert

from inference.idempotency import IdempotencyStore
from inference.pii import mask_pii
from inference.storage.engine import StorageBusy
from inference.storage.tables import Classification
from models.results import parse_created_at

log = logging.getLogger("feedback.api")


def _masked_result(result: dict) -> dict:
    """Keywords and reasons quote the customer's words; mask them like the text."""
    return {**result, "keywords": [mask_pii(k) for k in result.get("keywords", [])],
            "reasons": [mask_pii(r) for r in result.get("reasons", [])]}


def record_classifications(services, request_id: str, key_id: str, model_version: str, items: list[dict],
                           results: list[dict], idempotency_key: str | None, response_body: str,
                           wait: bool = True) -> None:
    """``wait=False``: raise ``StorageBusy`` (nothing stored) instead of waiting for a database lock."""
    now = datetime.now(UTC)
    try:
        with services.db.session(wait) as s:
            if services.settings.store_classifications:
                rows = []
                for item, result in zip(items, results, strict=True):
                    masked = mask_pii(item["text"])
                    rows.append(dict(
                        request_id=request_id, item_id=item["id"], api_key_id=key_id, model_version=model_version,
                        product_id=item.get("product_id"), channel=item.get("channel"), text_masked=masked,
                        inputs={**item, "text": masked}, result=_masked_result(result), priority=result["priority"],
                        created_at=parse_created_at(item.get("created_at"), now).astimezone(UTC), received_at=now))
                # a Core insert: the ORM's unit of work cost more than the model for a one-text request
                s.connection().execute(insert(Classification.__table__), rows)
                for hook in getattr(services, "record_hooks", []):
                    hook(s, request_id, items, results)
            if idempotency_key is not None:
                IdempotencyStore.complete(s, key_id, idempotency_key, 200, response_body)
    except StorageBusy:
        raise
    except Exception as exc:
        log.exception("storing classifications failed")
        raise HTTPException(503, "storage unavailable: nothing was stored; retry the request") from exc
