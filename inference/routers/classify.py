"""POST /v1/classify: the endpoint ticketing systems call for every new ticket."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from inference.dependencies import ModelDep, SettingsDep
from inference.schemas import ClassifyRequest, ClassifyResponse

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post("/classify", response_model=ClassifyResponse, summary="Classify a batch of customer texts",
             responses={413: {"description": "batch too large"}, 503: {"description": "model not loaded"}})
async def classify(body: ClassifyRequest, model: ModelDep, settings: SettingsDep) -> ClassifyResponse:
    if len(body.items) > settings.max_batch_items:
        raise HTTPException(413, f"batch has {len(body.items)} items; the limit is {settings.max_batch_items}")
    for n, item in enumerate(body.items):
        if len(item.text) > settings.max_text_chars:
            raise HTTPException(
                422, f"items[{n}].text has {len(item.text)} characters; the limit is {settings.max_text_chars}"
            )
    frame = pd.DataFrame([item.model_dump(mode="json") for item in body.items])
    results = await run_in_threadpool(model.classify, frame)
    return ClassifyResponse(model_version=model.version, results=results)
