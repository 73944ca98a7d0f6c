"""Transactional outbox and its dispatcher: what makes ticketing delivery lose nothing.

Events are written in the same database transaction as their cause (a classification, an alert
detection), so a crash can never leave a stored classification without its event or vice versa. The
dispatcher claims due events with a lease, pushes each through the connector, and records the result:
- success → ``delivered`` plus a ticket link (our id → ticket id) so later events update that ticket;
- retryable failure (timeout, 429, 5xx) → back off exponentially with jitter (or the server's
  Retry-After), up to ``max_attempts``, then ``dead`` (the dead-letter list operators retry from);
- permanent failure (401/403/404/422) → ``dead`` at once.
A dispatcher killed mid-batch leaves its claims to expire (``lease_s``); the next one re-sends them, and
because every push carries the event's idempotency key, which connectors look up before creating,
a re-send never makes a second ticket or comment. Events about the same subject (e.g. successive
detections of one alert) are delivered strictly in order.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from inference.storage.engine import Database
from inference.storage.tables import OutboxEvent, TicketLink
from inference.ticketing.base import (
    ConnectorError,
    DefectAlertEvent,
    DeliveryResult,
    TicketingConnector,
    TriageEvent,
)

log = logging.getLogger("feedback.outbox")

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def enqueue(session: Session, *, kind: str, connector: str, subject_id: str, event_key: str,
            payload: dict) -> OutboxEvent | None:
    """Add an event inside the caller's transaction; a key already in the outbox is not added twice."""
    if session.scalar(select(OutboxEvent.id).where(OutboxEvent.event_key == event_key)) is not None:
        return None
    event = OutboxEvent(event_key=event_key, kind=kind, connector=connector, subject_id=subject_id,
                        payload=payload, status=PENDING, next_attempt_at=datetime.now(UTC))
    session.add(event)
    return event


def _event_from_payload(kind: str, payload: dict) -> TriageEvent | DefectAlertEvent:
    if kind == "triage":
        return TriageEvent(**payload)
    if kind == "defect_alert":
        data = dict(payload)
        data["trend"] = [tuple(x) for x in data.get("trend", [])]
        return DefectAlertEvent(**data)
    raise ValueError(f"unknown outbox event kind {kind!r}")


@dataclass
class DispatchPolicy:
    max_attempts: int = 8
    base_delay_s: float = 2.0
    max_delay_s: float = 600.0
    lease_s: float = 60.0
    batch_size: int = 50

    def backoff(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Full-jitter exponential backoff, never sooner than the server's Retry-After."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
        delay = rng.uniform(delay / 2, delay)
        return max(delay, retry_after or 0.0)


class Dispatcher:
    def __init__(self, db: Database, connectors: dict[str, TicketingConnector], policy: DispatchPolicy | None = None,
                 worker_id: str | None = None, seed: int | None = None,
                 on_delivered: Callable[[OutboxEvent, DeliveryResult], None] | None = None):
        self.db = db
        self.connectors = connectors
        self.policy = policy or DispatchPolicy()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.rng = random.Random(seed)
        self.on_delivered = on_delivered

    # -- claiming -------------------------------------------------------------------------------
    def claim(self, now: datetime | None = None) -> list[OutboxEvent]:
        """Lease up to ``batch_size`` due events, the oldest undelivered one per subject only."""
        now = now or datetime.now(UTC)
        earlier = aliased(OutboxEvent)
        blocked = exists().where(and_(
            earlier.connector == OutboxEvent.connector, earlier.kind == OutboxEvent.kind,
            earlier.subject_id == OutboxEvent.subject_id, earlier.status == PENDING, earlier.id < OutboxEvent.id))
        with self.db.session() as s:
            q = (select(OutboxEvent)
                 .where(OutboxEvent.status == PENDING, OutboxEvent.next_attempt_at <= now,
                        OutboxEvent.connector.in_(list(self.connectors)),
                        (OutboxEvent.locked_until.is_(None)) | (OutboxEvent.locked_until < now),
                        ~blocked)
                 .order_by(OutboxEvent.id).limit(self.policy.batch_size)
                 .with_for_update(skip_locked=True))
            events = list(s.scalars(q))
            if not events:
                return []
            until = now + timedelta(seconds=self.policy.lease_s)
            s.execute(update(OutboxEvent).where(OutboxEvent.id.in_([e.id for e in events]),
                                                (OutboxEvent.locked_until.is_(None)) | (OutboxEvent.locked_until < now))
                      .values(locked_until=until, locked_by=self.worker_id)
                      .execution_options(synchronize_session=False))
            claimed = list(s.scalars(select(OutboxEvent).where(OutboxEvent.id.in_([e.id for e in events]),
                                                               OutboxEvent.locked_by == self.worker_id,
                                                               OutboxEvent.locked_until == until)))
            return claimed

    # -- delivery -------------------------------------------------------------------------------
    def _link(self, s: Session, event: OutboxEvent) -> str | None:
        return s.scalar(select(TicketLink.external_id).where(
            TicketLink.connector == event.connector, TicketLink.kind == event.kind,
            TicketLink.subject_id == event.subject_id))

    def deliver(self, event: OutboxEvent) -> str:
        """Push one event and record the outcome; returns the event's new status."""
        with self.db.session() as s:
            external = self._link(s, event)
        connector = self.connectors[event.connector]
        try:
            domain_event = _event_from_payload(event.kind, event.payload)
            if event.kind == "triage":
                result = connector.push_triage(domain_event, external)
            else:
                result = connector.push_alert(domain_event, external)
        except ConnectorError as exc:
            return self._failed(event, str(exc), exc.retryable, exc.retry_after)
        except Exception as exc:  # a bug or bad payload: keep it visible, never drop it
            log.exception("outbox event %s failed unexpectedly", event.id)
            return self._failed(event, f"{type(exc).__name__}: {exc}", retryable=False, retry_after=None)
        with self.db.session() as s:
            s.execute(update(OutboxEvent).where(OutboxEvent.id == event.id).values(
                status=DELIVERED, delivered_at=datetime.now(UTC), external_id=result.external_id,
                attempts=OutboxEvent.attempts + 1, locked_until=None, last_error=None))
            if self._link(s, event) is None:
                s.add(TicketLink(connector=event.connector, kind=event.kind, subject_id=event.subject_id,
                                 external_id=result.external_id))
        log.info("delivered outbox event %s (%s) as %s %s", event.id, event.kind, result.action,
                 result.external_id, extra={"event_key": event.event_key})
        if self.on_delivered:
            self.on_delivered(event, result)
        return DELIVERED

    def _failed(self, event: OutboxEvent, error: str, retryable: bool, retry_after: float | None) -> str:
        attempts = event.attempts + 1
        dead = not retryable or attempts >= self.policy.max_attempts
        delay = self.policy.backoff(attempts, retry_after, self.rng)
        with self.db.session() as s:
            s.execute(update(OutboxEvent).where(OutboxEvent.id == event.id).values(
                status=DEAD if dead else PENDING, attempts=attempts, last_error=error[:2000], locked_until=None,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay)))
        log.warning("outbox event %s attempt %d failed (%s): %s", event.id, attempts,
                    "dead-lettered" if dead else f"retry in {delay:.1f}s", error[:300])
        return DEAD if dead else PENDING

    def run_once(self) -> int:
        """Deliver one claimed batch; returns how many events were attempted."""
        events = self.claim()
        for event in events:
            self.deliver(event)
        return len(events)

    def run(self, stop: threading.Event, poll_s: float = 1.0, until_idle: bool = False,
            progress: Callable[[int], None] | None = None) -> None:
        while not stop.is_set():
            n = self.run_once()
            if progress and n:
                progress(n)
            if n == 0:
                if until_idle and not self.pending_due_soon():
                    return
                stop.wait(poll_s)

    def pending_due_soon(self, horizon_s: float = 0.0) -> bool:
        horizon = datetime.now(UTC) + timedelta(seconds=horizon_s)
        with self.db.session() as s:
            return s.scalar(select(OutboxEvent.id).where(
                OutboxEvent.status == PENDING, OutboxEvent.next_attempt_at <= horizon).limit(1)) is not None


def retry_dead(db: Database, event_ids: list[int] | None = None) -> int:
    """Operators: move dead events (all, or the given ids) back to pending with a fresh attempt budget."""
    with db.session() as s:
        q = update(OutboxEvent).where(OutboxEvent.status == DEAD)
        if event_ids:
            q = q.where(OutboxEvent.id.in_(event_ids))
        return s.execute(q.values(status=PENDING, attempts=0, next_attempt_at=datetime.now(UTC),
                                  locked_until=None)).rowcount


def wait_for(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()
