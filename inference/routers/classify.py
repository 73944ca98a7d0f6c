"""POST /v1/classify: the endpoint ticketing systems call for every new ticket."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from inference.dependencies import ClassifyCaller, ModelDep, ServicesDep
from inference.idempotency import IdempotencyConflict, Replay, request_fingerprint
from inference.recording import record_classifications
from inference.schemas import ClassifyRequest, ClassifyResponse, ErrorBody
from inference.storage.engine import StorageBusy

router = APIRouter(prefix="/v1", tags=["classify"])

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$",
    description="Any unique string (e.g. a UUID or your ticket id + revision). A retry with the same key "
                "returns the stored response instead of classifying and storing again.")]

_ERRORS = {
    401: {"model": ErrorBody, "description": "missing, invalid or revoked API key"},
    403: {"model": ErrorBody, "description": "the key lacks the classify scope"},
    409: {"model": ErrorBody, "description": "same Idempotency-Key still in progress"},
    413: {"model": ErrorBody, "description": "batch or body too large"},
    422: {"model": ErrorBody, "description": "invalid input; the message names the item and field"},
    429: {"model": ErrorBody, "description": "rate limit; see Retry-After"},
    503: {"model": ErrorBody, "description": "model not loaded or storage unavailable; safe to retry"},
}


@router.post("/classify", response_model=ClassifyResponse, summary="Classify a batch of customer texts",
             description="Issue types, sentiment, urgency, priority with SLA due times, reasons, keywords and "
                         "suggested actions for each text. Every classification is stored (PII-masked) "
                         "with the request id and model version.",
             responses=_ERRORS)
async def classify(request: Request, body: ClassifyRequest, caller: ClassifyCaller, services: ServicesDep,
                   model: ModelDep, idempotency_key: IdempotencyKey = None) -> Response:
    settings = services.settings
    if len(body.items) > settings.max_batch_items:
        raise HTTPException(413, f"batch has {len(body.items)} items; the limit is {settings.max_batch_items}")
    for n, item in enumerate(body.items):
        if len(item.text) > settings.max_text_chars:
            raise HTTPException(
                422, f"items[{n}].text has {len(item.text)} characters; the limit is {settings.max_text_chars}")
    request_id = request.scope["state"]["request_id"]
    items = [item.model_dump(mode="json") for item in body.items]
    fingerprint = None
    if idempotency_key is not None:
        fingerprint = request_fingerprint(json.dumps(items, sort_keys=True, ensure_ascii=False).encode())
    job = ClassifyJob(services, model, caller.key_id, request_id, items, idempotency_key, fingerprint)
    try:
        outcome = None
        if services.db.can_write_without_waiting and sum(len(it["text"]) for it in items) <= settings.inline_max_chars:
            # Small batch on SQLite: run on the event loop. The work is ~2 ms of CPU that holds the GIL,
            # so a worker thread would block the loop just the same, and the hand-off to and from it
            # cost about as much again (thread wake-ups). If the database is busy, nothing was written
            # and the same job continues in a worker thread below.
            with contextlib.suppress(StorageBusy):
                outcome = job.run(wait=False)
        if outcome is None:
            outcome = await anyio.to_thread.run_sync(job.run, True, limiter=services.inference_limiter)
    except IdempotencyConflict as exc:
        raise HTTPException(exc.status_code, exc.message) from None
    except Exception:
        if job.claimed:
            await run_in_threadpool(services.idempotency.release, caller.key_id, idempotency_key)
        raise
    if isinstance(outcome, Replay):
        return Response(outcome.body, status_code=outcome.status_code, media_type="application/json",
                        headers={"Idempotent-Replayed": "true"})
    results, payload = outcome
    services.metrics.observe_results(results)
    return Response(payload, media_type="application/json")


@dataclass
class ClassifyJob:
    """Claim the idempotency key, classify, store: resumable, so work done in a no-wait attempt on the
    event loop (the claim, the results) is not repeated when the job moves to a worker thread."""

    services: object
    model: object
    key_id: str
    request_id: str
    items: list[dict]
    idempotency_key: str | None
    fingerprint: str | None
    claimed: bool = False
    results: list[dict] | None = field(default=None, repr=False)

    def run(self, wait: bool) -> Replay | tuple[list[dict], str]:
        if self.idempotency_key is not None and not self.claimed:
            replay = self.services.idempotency.claim(self.key_id, self.idempotency_key, self.fingerprint, wait=wait)
            if replay is not None:
                return replay
            self.claimed = True
        if self.results is None:
            self.results = self.model.classify(self.items)
        payload = ClassifyResponse(model_version=self.model.version, request_id=self.request_id,
                                   results=self.results).model_dump_json()
        record_classifications(self.services, self.request_id, self.key_id, self.model.version, self.items,
                               self.results, self.idempotency_key, payload, wait=wait)
        return self.results, payload
