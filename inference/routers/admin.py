"""Operator endpoints (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from inference.dependencies import Admin, StoreDep
from inference.schemas import HealthStatus

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/reload", response_model=HealthStatus, summary="Load the current @champion now")
async def reload_model(_caller: Admin, store: StoreDep) -> HealthStatus:
    """The API also polls the registry every FEEDBACK_MODEL_RELOAD_INTERVAL_S; this skips the wait."""
    current = await run_in_threadpool(store.load)
    return HealthStatus(status="ready" if current else "not_ready",
                        model_version=current.version if current else None, detail=store.error)
