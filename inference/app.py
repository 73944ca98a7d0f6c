"""Application factory: routers, settings and the model loaded once in the lifespan."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from inference.model_store import ModelStore
from inference.routers import classify, health
from models.settings import Settings, get_settings


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    store = store or ModelStore(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if store.current is None:
            await run_in_threadpool(store.load)
        yield

    app = FastAPI(
        title="售后反馈挖掘 Feedback Mining API",
        version="0.1.0",
        description="Classifies Chinese after-sales feedback into issue types, sentiment, urgency and ticket priority.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model_store = store
    app.include_router(health.router)
    app.include_router(classify.router)
    return app
