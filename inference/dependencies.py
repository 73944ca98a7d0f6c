"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from inference.model_store import LoadedModel, ModelStore
from models.settings import Settings


def get_store(request: Request) -> ModelStore:
    return request.app.state.model_store


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_loaded_model(store: Annotated[ModelStore, Depends(get_store)]) -> LoadedModel:
    if store.current is None:
        raise HTTPException(status_code=503, detail=f"model not loaded: {store.error or 'loading'}")
    return store.current


StoreDep = Annotated[ModelStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ModelDep = Annotated[LoadedModel, Depends(get_loaded_model)]
