"""POST /v1/classify: the endpoint ticketing systems call for every new ticket."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from inference.dependencies import ClassifyCaller, ModelDep, ServicesDep
from inference.idempotency import IdempotencyConflict, request_fingerprint
from inference.recording import record_classifications
from inference.schemas import ClassifyRequest, ClassifyResponse, ErrorBody

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

    if idempotency_key is not None:
        fingerprint = request_fingerprint(json.dumps(items, sort_keys=True, ensure_ascii=False).encode())
        try:
            replay = await run_in_threadpool(services.idempotency.claim, caller.key_id, idempotency_key,
                                             fingerprint)
        except IdempotencyConflict as exc:
            raise HTTPException(exc.status_code, exc.message) from None
        if replay is not None:
            return Response(replay.body, status_code=replay.status_code, media_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
    def classify_and_record() -> tuple[list[dict], str]:
        """One thread hop for the CPU-bound model call and the blocking database write."""
        results = model.classify(items)
        payload = ClassifyResponse(model_version=model.version, request_id=request_id,
                                   results=results).model_dump_json()
        record_classifications(services, request_id, caller.key_id, model.version, items, results,
                               idempotency_key, payload)
        return results, payload

    try:
        results, payload = await run_in_threadpool(classify_and_record)
    except Exception:
        if idempotency_key is not None:
            await run_in_threadpool(services.idempotency.release, caller.key_id, idempotency_key)
        raise
    services.metrics.observe_results(results)
    return Response(payload, media_type="application/json")
