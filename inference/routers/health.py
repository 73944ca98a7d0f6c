"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from inference.dependencies import StoreDep
from inference.schemas import HealthStatus

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthStatus, summary="Process is up")
def healthz() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get("/readyz", response_model=HealthStatus, summary="Model is loaded and ready to classify",
            responses={503: {"model": HealthStatus}})
def readyz(store: StoreDep):
    if store.current is None:
        body = HealthStatus(status="not_ready", detail=store.error or "model loading")
        return JSONResponse(status_code=503, content=body.model_dump())
    return HealthStatus(status="ready", model_version=store.current.version)
