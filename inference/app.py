"""Application factory: routers, middleware, error bodies, and the services built once in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from inference.model_store import ModelStore
from inference.observability import Metrics, RequestContextMiddleware, request_id_var
from inference.routers import admin, alerts, classifications, classify, dashboard, health, metrics
from inference.services import Services
from models.settings import Settings, get_settings

DESCRIPTION = """
售后反馈挖掘 — classifies Chinese after-sales feedback (reviews, complaints, chat messages) into issue
types, sentiment, urgency and a ticket priority with SLA due times, reasons and suggested actions.

**Auth**: `Authorization: Bearer <key>` (or `X-API-Key`). Scopes: `classify`, `read`, `admin`.
**Idempotency**: send `Idempotency-Key` to make retries safe. **Tracing**: `X-Request-ID` is echoed.
Errors are JSON `{"detail": ..., "request_id": ...}`; 4xx never mean a server fault.
"""


def _field_path(loc) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def create_app(settings: Settings | None = None, store: ModelStore | None = None,
               services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else get_settings())
    metrics_ = services.metrics if services else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = services or await run_in_threadpool(Services.build, settings, store, metrics_)
        app.state.services = svc
        svc.store.on_change.append(lambda loaded: svc.metrics.set_model_version(loaded.version))
        if svc.store.current is None:
            await run_in_threadpool(svc.store.load)
        else:
            svc.metrics.set_model_version(svc.store.current.version)
        watcher = None
        if settings.model_reload_interval_s > 0:
            watcher = asyncio.create_task(svc.store.watch(settings.model_reload_interval_s))
        stop_dispatch, dispatch_thread = threading.Event(), None
        if settings.dispatch_in_api and settings.ticketing_connector:
            from inference.ticketing.factory import make_dispatcher

            dispatcher = make_dispatcher(settings, svc.db)
            dispatch_thread = threading.Thread(target=dispatcher.run, args=(stop_dispatch,), daemon=True,
                                               name="outbox-dispatcher")
            dispatch_thread.start()
        try:
            yield
        finally:
            stop_dispatch.set()
            if dispatch_thread:
                dispatch_thread.join(timeout=10)
            if watcher:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if services is None:
                svc.db.dispose()

    app = FastAPI(title="售后反馈挖掘 Feedback Mining API", version="0.2.0", description=DESCRIPTION,
                  lifespan=lifespan)
    if services is not None:
        app.state.services = services

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
        message = f"{_field_path(first.get('loc', ()))}: {first.get('msg')}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": e.get("type")} for e in errors]
        return JSONResponse(status_code=422, content={"detail": detail, "message": message,
                                                      "request_id": request_id_var.get()})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, headers=exc.headers,
                            content={"detail": exc.detail, "request_id": request_id_var.get()})

    app.add_middleware(RequestContextMiddleware, metrics=metrics_, max_body_bytes=settings.max_body_bytes)
    for r in (health, classify, classifications, admin, metrics, alerts, dashboard):
        app.include_router(r.router)
    return app
