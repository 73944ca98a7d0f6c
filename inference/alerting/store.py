"""Stored defect alerts: spike detections become alerts that people acknowledge and resolve.

Identity and update rules (see :meth:`AlertStore.record`):

* An alert is about one ``(product_id, key_kind, key)``; ``key_kind`` is ``topic`` or ``issue_type``.
* While an alert for that triple is *open* (``new`` or ``acknowledged``) every further detection updates
  it: count, baseline, ratio, p-value and window follow the newest window, ``severity`` only ever goes up
  (max of old and new), the trend series is merged, examples are merged (newest first, PII-masked,
  at most :data:`MAX_EXAMPLES`), ``last_seen`` moves and ``detections`` counts the distinct windows.
  Re-recording the *same* window (a cron job run twice) refreshes the numbers but is not a new
  detection and enqueues nothing new. A detection of an *older* window than the alert's only merges
  its trend point.
* Once resolved, an alert is closed for good: the next spike in a *later* window creates a new alert
  (new id); a detection for a window the resolved alert already covered is skipped, so re-running a
  job after someone resolved its alert does not re-open it.
* Alert ids are deterministic — ``al-<16 hex of sha256(product, kind, key, first window start)>`` — so
  two concurrent runs cannot create two alerts for one spike (the second insert fails on the key).

When ``settings.ticketing_connector`` is set, each new window of an alert enqueues one ``defect_alert``
outbox event in the same transaction (``event_key = alert:<id>:<window start ISO>``, ``subject_id`` = the
alert id, so the dispatcher delivers an alert's detections in order onto one ticket).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from inference.alerting.spikes import SEVERITIES, SpikeDetection
from inference.outbox import enqueue
from inference.pii import mask_pii
from inference.storage.engine import Database
from inference.storage.tables import AlertStatusChange, DefectAlert
from inference.ticketing.base import DefectAlertEvent
from models.settings import Settings

STATUSES = ("new", "acknowledged", "resolved")
OPEN_STATUSES = ("new", "acknowledged")
KEY_KINDS = ("topic", "issue_type")
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "resolved"}),
    "acknowledged": frozenset({"resolved"}),
    "resolved": frozenset(),
}
MAX_EXAMPLES = 5
MAX_EXAMPLE_CHARS = 500
MAX_TREND_POINTS = 26
MAX_KEYWORDS = 10
RATIO_CAP = 999.0  # a zero baseline gives an infinite ratio; stored (and sent as JSON) capped, flagged is_new
_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # critical 0 < major 1 < minor 2


class AlertNotFound(KeyError):
    """No alert with that id."""


class InvalidTransition(ValueError):
    """The requested status change is not allowed from the alert's current status."""


@dataclass(frozen=True)
class RecordResult:
    """What :meth:`AlertStore.record` did with one detection."""

    alert_id: str
    action: str  # created | updated (new window) | refreshed (same window again) | skipped (resolved)
    product_id: str
    key_kind: str
    key: str
    title: str
    severity: str
    status: str
    count: int
    ratio: float
    window_start: datetime
    event_enqueued: bool


def as_utc(value: Any) -> datetime:
    """A timezone-aware UTC datetime from a datetime/Timestamp/ISO string; naive values are taken as UTC
    (SQLite hands back naive datetimes even for timezone-aware columns)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def alert_id_for(product_id: str, key_kind: str, key: str, window_start: datetime) -> str:
    """``al-`` + 16 hex of sha256(product, kind, key, first window start): deterministic, so a concurrent
    second run of the same job fails on the primary key instead of creating a duplicate alert."""
    raw = "\x1f".join((product_id, key_kind, key, as_utc(window_start).isoformat()))
    return f"al-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:16]}"


def worse(a: str, b: str) -> str:
    """The more severe of two severities."""
    return a if _RANK.get(a, 99) <= _RANK.get(b, 99) else b


def _finite_ratio(ratio: float) -> float:
    return RATIO_CAP if not math.isfinite(ratio) else min(float(ratio), RATIO_CAP)


def _clean_examples(new: Iterable[str], old: Iterable[str] = ()) -> list[str]:
    out: list[str] = []
    for text in [*new, *old]:
        masked = mask_pii(str(text)).strip()[:MAX_EXAMPLE_CHARS]
        if masked and masked not in out:
            out.append(masked)
        if len(out) >= MAX_EXAMPLES:
            break
    return out


def _merge_trend(old: Sequence, series: Iterable[tuple[Any, int]]) -> list[list]:
    points = {as_utc(s).isoformat(): int(c) for s, c in (old or [])}
    for s, c in series:
        points[as_utc(s).isoformat()] = int(c)
    return [[k, points[k]] for k in sorted(points)][-MAX_TREND_POINTS:]


class AlertStore:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    # ------------------------------------------------------------------ recording detections
    def record(
        self,
        detections: Iterable[SpikeDetection],
        *,
        key_kind: str,
        titles: Mapping[Hashable, str] | None = None,
        keywords: Mapping[Hashable, Sequence[str]] | None = None,
        examples: Mapping[tuple[Hashable, Hashable], Sequence[str]] | None = None,
        issue_types: Mapping[Hashable, Sequence[str]] | None = None,
        now: datetime | None = None,
    ) -> list[RecordResult]:
        """Create or update one alert per detection, all in one transaction (with their outbox events).

        ``titles`` are looked up by the detection's key, ``examples`` by ``(product_id, key)``,
        ``keywords``/``issue_types`` by ``(product_id, key)`` first, then by key. Examples are PII-masked
        here whatever the caller passes.
        """
        if key_kind not in KEY_KINDS:
            raise ValueError(f"key_kind must be one of {KEY_KINDS}, not {key_kind!r}")
        titles, keywords, issue_types = titles or {}, keywords or {}, issue_types or {}
        examples = examples or {}
        now = as_utc(now) if now is not None else datetime.now(UTC)
        results: list[RecordResult] = []
        with self.db.session() as s:
            for d in detections:
                pk = (d.product_id, d.key)
                results.append(self._record_one(
                    s, d, key_kind=key_kind, title=titles.get(d.key), keywords=keywords.get(pk, keywords.get(d.key)),
                    examples=examples.get(pk), issue_types=issue_types.get(pk, issue_types.get(d.key)), now=now))
        return results

    def _record_one(self, s: Session, d: SpikeDetection, *, key_kind: str, title: str | None,
                    keywords: Sequence[str] | None, examples: Sequence[str] | None,
                    issue_types: Sequence[str] | None, now: datetime) -> RecordResult:
        product_id, key = str(d.product_id), str(d.key)
        ws, we = as_utc(d.window_start), as_utc(d.window_end)
        ratio = _finite_ratio(d.ratio)
        p_value = float(d.p_value) if d.p_value is not None and math.isfinite(d.p_value) else None
        latest = s.scalars(
            select(DefectAlert)
            .where(DefectAlert.product_id == product_id, DefectAlert.key_kind == key_kind, DefectAlert.key == key)
            .order_by(DefectAlert.window_start.desc(), DefectAlert.first_seen.desc()).limit(1)
        ).first()
        # A single open alert per triple is kept by construction: only the newest one can be open.
        alert = latest if latest is not None and latest.status in OPEN_STATUSES else None

        if alert is None and latest is not None and as_utc(latest.window_start) >= ws:
            # Resolved, and this window is one it already covered: not a new spike.
            return self._result(latest, "skipped", ws, False)

        if alert is None:
            alert = DefectAlert(
                id=alert_id_for(product_id, key_kind, key, ws), product_id=product_id, key_kind=key_kind, key=key,
                title=(title or key)[:255], keywords=list(keywords or [])[:MAX_KEYWORDS],
                issue_types=list(issue_types or []), window_start=ws, window_end=we, count=int(d.count),
                baseline=float(d.baseline_mean), ratio=ratio, p_value=p_value, is_new_topic=bool(d.is_new),
                severity=d.severity, examples=_clean_examples(examples or []),
                trend=_merge_trend([], d.series or [(ws, d.count)]), detections=1, first_seen=now, last_seen=now,
                status="new",
            )
            s.add(alert)
            s.flush()
            action = "created"
        else:
            current = as_utc(alert.window_start)
            alert.trend = _merge_trend(alert.trend, d.series or [(ws, d.count)])
            if ws < current:  # an older window (backfill): history only
                return self._result(alert, "refreshed", ws, False)
            action = "updated" if ws > current else "refreshed"
            alert.window_start, alert.window_end = ws, we
            alert.count, alert.baseline, alert.ratio, alert.p_value = int(d.count), float(d.baseline_mean), ratio, p_value
            alert.severity = worse(alert.severity, d.severity)
            alert.is_new_topic = bool(alert.is_new_topic or d.is_new)
            if title:
                alert.title = title[:255]
            if keywords:
                alert.keywords = list(keywords)[:MAX_KEYWORDS]
            if issue_types:
                alert.issue_types = list(dict.fromkeys([*issue_types, *(alert.issue_types or [])]))
            alert.examples = _clean_examples(examples or [], alert.examples or [])
            alert.last_seen = now
            if action == "updated":
                alert.detections = (alert.detections or 0) + 1

        enqueued = False
        connector = self.settings.ticketing_connector
        if connector:
            event = self._event(alert, ws, we)
            enqueued = enqueue(s, kind="defect_alert", connector=connector, subject_id=alert.id,
                               event_key=event.idempotency_key, payload=event.to_dict()) is not None
        return self._result(alert, action, ws, enqueued)

    def _event(self, alert: DefectAlert, ws: datetime, we: datetime) -> DefectAlertEvent:
        base = self.settings.dashboard_base_url.rstrip("/")
        return DefectAlertEvent(
            idempotency_key=f"alert:{alert.id}:{ws.isoformat()}",
            alert_id=alert.id,
            product_id=alert.product_id,
            topic_id=f"{alert.key_kind}:{alert.key}",
            keywords=list(alert.keywords or []) or [alert.title],
            window_start=ws.isoformat(),
            window_end=we.isoformat(),
            count=int(alert.count),
            baseline=float(alert.baseline),
            ratio=float(alert.ratio),
            severity=alert.severity,
            examples=list(alert.examples or []),
            trend=[(str(t), int(c)) for t, c in (alert.trend or [])],
            issue_types=list(alert.issue_types or []),
            dashboard_url=f"{base}/dashboard/alerts/{alert.id}",
        )

    @staticmethod
    def _result(alert: DefectAlert, action: str, ws: datetime, enqueued: bool) -> RecordResult:
        return RecordResult(alert_id=alert.id, action=action, product_id=alert.product_id, key_kind=alert.key_kind,
                            key=alert.key, title=alert.title, severity=alert.severity, status=alert.status,
                            count=int(alert.count), ratio=float(alert.ratio), window_start=ws,
                            event_enqueued=enqueued)

    # ------------------------------------------------------------------ status workflow
    def set_status(self, alert_id: str, status: str, by: str, note: str | None = None,
                   now: datetime | None = None) -> DefectAlert:
        """Move an alert along new → acknowledged → resolved (new → resolved is allowed too) and write
        the audit row. Raises :class:`AlertNotFound` or :class:`InvalidTransition`."""
        if status not in STATUSES:
            raise InvalidTransition(f"unknown status {status!r}; known: {list(STATUSES)}")
        now = as_utc(now) if now is not None else datetime.now(UTC)
        with self.db.session() as s:
            alert = s.get(DefectAlert, alert_id, with_for_update=True)
            if alert is None:
                raise AlertNotFound(alert_id)
            if status not in TRANSITIONS[alert.status]:
                raise InvalidTransition(f"alert {alert_id} is {alert.status}; cannot move to {status}")
            alert.status, alert.status_by, alert.status_at = status, by[:128], now
            s.add(AlertStatusChange(alert_id=alert_id, status=status, changed_by=by[:128],
                                    note=(note or None) and note[:2000], changed_at=now))
        return alert

    # ------------------------------------------------------------------ reading
    def get(self, alert_id: str) -> DefectAlert | None:
        with self.db.session() as s:
            return s.get(DefectAlert, alert_id)

    def list(self, product: str | None = None, status: str | None = None, severity: str | None = None,
             limit: int = 100, key_kind: str | None = None) -> list[DefectAlert]:
        """Open alerts first, then by severity (critical first), then newest activity first."""
        q = select(DefectAlert)
        if product:
            q = q.where(DefectAlert.product_id == product)
        if status:
            q = q.where(DefectAlert.status == status)
        if severity:
            q = q.where(DefectAlert.severity == severity)
        if key_kind:
            q = q.where(DefectAlert.key_kind == key_kind)
        is_open = case((DefectAlert.status.in_(OPEN_STATUSES), 0), else_=1)
        rank = case(*((DefectAlert.severity == sev, i) for sev, i in _RANK.items()), else_=len(_RANK))
        q = q.order_by(is_open, rank, DefectAlert.last_seen.desc(), DefectAlert.id).limit(max(1, int(limit)))
        with self.db.session() as s:
            return list(s.scalars(q))

    def history(self, alert_id: str) -> list[AlertStatusChange]:
        with self.db.session() as s:
            return list(s.scalars(select(AlertStatusChange).where(AlertStatusChange.alert_id == alert_id)
                                  .order_by(AlertStatusChange.changed_at, AlertStatusChange.id)))

    def counts(self, product: str | None = None) -> dict[str, dict[str, int]]:
        """``{"status": {...}, "severity": {...}, "severity_open": {...}}`` over all (or one product's) alerts."""
        out: dict[str, dict[str, int]] = {"status": dict.fromkeys(STATUSES, 0),
                                          "severity": dict.fromkeys(SEVERITIES, 0),
                                          "severity_open": dict.fromkeys(SEVERITIES, 0)}
        q = select(DefectAlert.status, DefectAlert.severity, func.count()).group_by(DefectAlert.status,
                                                                                   DefectAlert.severity)
        if product:
            q = q.where(DefectAlert.product_id == product)
        with self.db.session() as s:
            for status, severity, n in s.execute(q):
                out["status"][status] = out["status"].get(status, 0) + n
                out["severity"][severity] = out["severity"].get(severity, 0) + n
                if status in OPEN_STATUSES:
                    out["severity_open"][severity] = out["severity_open"].get(severity, 0) + n
        return out

    def products(self) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(DefectAlert.product_id).distinct().order_by(DefectAlert.product_id)))
