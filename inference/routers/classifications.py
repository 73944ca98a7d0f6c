"""Reading stored classifications back: audit, and the pool later annotation rounds sample from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from inference.dependencies import Reader, ServicesDep
from inference.schemas import ClassificationPage, StoredClassification
from inference.storage.tables import Classification

router = APIRouter(prefix="/v1", tags=["classifications"])


@router.get("/classifications", response_model=ClassificationPage, summary="Stored classifications, newest first")
async def list_classifications(
    _caller: Reader, services: ServicesDep,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    item_id: Annotated[str | None, Query(max_length=128)] = None,
    product_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ClassificationPage:
    def load() -> list[StoredClassification]:
        q = select(Classification).order_by(Classification.id.desc()).limit(limit)
        if request_id:
            q = q.where(Classification.request_id == request_id)
        if item_id:
            q = q.where(Classification.item_id == item_id)
        if product_id:
            q = q.where(Classification.product_id == product_id)
        with services.db.session() as s:
            return [StoredClassification.model_validate(row, from_attributes=True) for row in s.scalars(q)]

    return ClassificationPage(items=await run_in_threadpool(load))
