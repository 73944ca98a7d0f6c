"""Defect alerts as JSON: list, read, and move along new → acknowledged → resolved (read scope: product
teams act on alerts without holding admin keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from inference.alerting.store import AlertNotFound, AlertStore, InvalidTransition
from inference.dependencies import Reader, ServicesDep
from inference.storage.tables import AlertStatusChange, DefectAlert

router = APIRouter(prefix="/v1", tags=["alerts"])

Status = Literal["new", "acknowledged", "resolved"]
Severity = Literal["critical", "major", "minor"]
AlertId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class StatusChangeOut(BaseModel):
    status: Status
    changed_by: str
    note: str | None = None
    changed_at: datetime


class AlertOut(BaseModel):
    id: str
    product_id: str
    key_kind: Literal["topic", "issue_type"]
    key: str
    title: str
    keywords: list[str]
    issue_types: list[str]
    window_start: datetime
    window_end: datetime
    count: int
    baseline: float
    ratio: float = Field(description="count / baseline; 999 when the baseline is zero (see is_new_topic)")
    p_value: float | None
    is_new_topic: bool
    severity: Severity
    status: Status
    status_by: str | None
    status_at: datetime | None
    detections: int = Field(description="Distinct windows in which this alert was detected")
    first_seen: datetime
    last_seen: datetime
    examples: list[str] = Field(description="PII-masked complaint texts")
    trend: list[tuple[str, int]] = Field(description="(window start ISO, count), oldest first")
    dashboard_path: str


class AlertDetail(AlertOut):
    history: list[StatusChangeOut]


class AlertPage(BaseModel):
    items: list[AlertOut]
    counts: dict[str, dict[str, int]]


class StatusChangeIn(BaseModel):
    model_config = {"extra": "forbid"}

    status: Literal["acknowledged", "resolved"]
    note: str | None = Field(default=None, max_length=2000)


def alert_out(a: DefectAlert, history: list[AlertStatusChange] | None = None) -> AlertOut | AlertDetail:
    data = {c: getattr(a, c) for c in AlertOut.model_fields if c not in ("dashboard_path", "trend")}
    data["trend"] = [(str(t), int(c)) for t, c in (a.trend or [])]
    data["dashboard_path"] = f"/dashboard/alerts/{a.id}"
    if history is None:
        return AlertOut(**data)
    return AlertDetail(**data, history=[StatusChangeOut(status=h.status, changed_by=h.changed_by, note=h.note,
                                                        changed_at=h.changed_at) for h in history])


def store_of(services) -> AlertStore:
    return AlertStore(services.db, services.settings)


def changed_by(principal) -> str:
    return f"{principal.name} ({principal.key_id})"


@router.get("/alerts", response_model=AlertPage, summary="Defect alerts: open first, then by severity, then newest activity")
async def list_alerts(
    _caller: Reader, services: ServicesDep,
    product_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Status | None = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertPage:
    store = store_of(services)

    def load() -> AlertPage:
        rows = store.list(product=product_id, status=status, severity=severity, limit=limit)
        return AlertPage(items=[alert_out(a) for a in rows], counts=store.counts(product_id))

    return await run_in_threadpool(load)


@router.get("/alerts/{alert_id}", response_model=AlertDetail, summary="One alert with its status history",
            responses={404: {"description": "No such alert"}})
async def get_alert(alert_id: AlertId, _caller: Reader, services: ServicesDep) -> AlertDetail:
    store = store_of(services)

    def load():
        alert = store.get(alert_id)
        return None if alert is None else alert_out(alert, store.history(alert_id))

    out = await run_in_threadpool(load)
    if out is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return out


@router.post("/alerts/{alert_id}/status", response_model=AlertDetail,
             summary="Acknowledge or resolve an alert (new → acknowledged → resolved; new → resolved)",
             responses={404: {"description": "No such alert"}, 409: {"description": "Transition not allowed"}})
async def change_status(alert_id: AlertId, body: StatusChangeIn, caller: Reader,
                        services: ServicesDep) -> AlertDetail:
    store = store_of(services)

    def apply():
        store.set_status(alert_id, body.status, by=changed_by(caller), note=body.note)
        return alert_out(store.get(alert_id), store.history(alert_id))

    try:
        return await run_in_threadpool(apply)
    except AlertNotFound as exc:
        raise HTTPException(404, f"no alert {alert_id}") from exc
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from exc
