"""Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inference.dependencies import ServicesDep, authenticate, require

router = APIRouter(tags=["observability"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, services: ServicesDep) -> Response:
    if services.settings.metrics_require_auth:
        await require("read")(await authenticate(request, services), services)
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
