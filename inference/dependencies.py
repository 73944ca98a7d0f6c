"""FastAPI dependencies as ``Annotated`` aliases: services, the served model, the authenticated caller.

They are ``async`` on purpose: FastAPI runs plain ``def`` dependencies in the thread pool, and five
thread hops per request cost more than everything they do. Key lookups are cached in memory; a cache
miss reads the database in the thread pool, never on the event loop."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from inference.auth import ANONYMOUS, NEEDS_LOOKUP, Principal
from inference.model_store import LoadedModel, ModelStore
from inference.services import Services


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_store(request: Request) -> ModelStore:
    return request.app.state.services.store


async def get_loaded_model(store: Annotated[ModelStore, Depends(get_store)]) -> LoadedModel:
    """Taken once per request: a reload during the request does not affect it."""
    current = store.current
    if current is None:
        raise HTTPException(status_code=503, detail=f"model not loaded: {store.error or 'loading'}")
    return current


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


async def authenticate(request: Request, services: Annotated[Services, Depends(get_services)]) -> Principal:
    if not services.settings.auth_enabled:
        return ANONYMOUS
    key = _presented_key(request)
    if key is None:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = services.keys.authenticate_cached(key)
    if principal is NEEDS_LOOKUP:  # first use of the key or an expired entry: read it off the event loop
        principal = await run_in_threadpool(services.keys.authenticate, key)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    request.scope.setdefault("state", {})["key_id"] = principal.key_id
    return principal


def require(scope: str):
    """Dependency factory: the caller must hold ``scope`` (admin holds all) and be within its rate."""

    async def dependency(principal: Annotated[Principal, Depends(authenticate)],
                   services: Annotated[Services, Depends(get_services)]) -> Principal:
        if not principal.allows(scope):
            raise HTTPException(403, f"this API key lacks the '{scope}' scope")
        wait = services.limiter.acquire(principal.key_id, principal.rate_limit_per_minute)
        if wait > 0:
            services.metrics.rate_limited.labels(principal.key_id).inc()
            raise HTTPException(429, f"rate limit exceeded for key {principal.key_id}; retry later",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


ServicesDep = Annotated[Services, Depends(get_services)]
StoreDep = Annotated[ModelStore, Depends(get_store)]
ModelDep = Annotated[LoadedModel, Depends(get_loaded_model)]
ClassifyCaller = Annotated[Principal, Depends(require("classify"))]
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
