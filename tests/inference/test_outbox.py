"""The outbox dispatcher: retries with backoff, dead letters, ordering per subject, lease expiry after a
crash, and no duplicate tickets on re-delivery (against an in-memory connector with the same contract
as the real ones: it looks the idempotency key up before creating)."""

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from inference.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    Dispatcher,
    DispatchPolicy,
    _event_from_payload,
    enqueue,
    retry_dead,
)
from inference.storage.engine import Database
from inference.storage.tables import OutboxEvent, TicketLink
from inference.ticketing.base import ConnectorError, DeliveryResult


class FakeTicketing:
    """Tickets in memory; fails the next ``fail`` pushes with the given error."""

    name = "fake"

    def __init__(self):
        self.tickets: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.comments: dict[str, list[str]] = {}
        self.failures: list[ConnectorError] = []
        self.calls = 0

    def _push(self, key: str, external_id: str | None, body: str) -> DeliveryResult:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        if key in self.by_key:
            return DeliveryResult(self.by_key[key], "noop")
        if external_id:
            self.comments.setdefault(external_id, []).append(body)
            self.by_key[key] = external_id
            return DeliveryResult(external_id, "updated")
        tid = str(len(self.tickets) + 1)
        self.tickets[tid] = {"body": body}
        self.by_key[key] = tid
        return DeliveryResult(tid, "created")

    def push_triage(self, event, external_id=None):
        return self._push(event.idempotency_key, external_id or event.external_ticket_id, event.item_id)

    def push_alert(self, event, external_id=None):
        return self._push(event.idempotency_key, external_id, f"{event.alert_id}:{event.count}")


def triage_payload(n: int) -> dict:
    return dict(idempotency_key=f"triage:r:{n}", item_id=f"T-{n}", text="快递丢了", priority="P2",
                issue_types=["logistics"], issue_type_names=["物流配送"], sentiment="negative", sentiment_score=-0.8,
                urgency="high", model_version="1", first_response_due=None, resolution_due=None, reasons=["包裹丢失"],
                suggested_actions=["优先补发"])


def alert_payload(detection: int) -> dict:
    return dict(idempotency_key=f"alert:A1:{detection}", alert_id="A1", product_id="SKU-1", topic_id="3",
                keywords=["漏水"], window_start="2026-11-16T00:00:00+00:00", window_end="2026-11-23T00:00:00+00:00",
                count=10 * detection, baseline=2.0, ratio=5.0 * detection, severity="major", examples=["漏水了"],
                trend=[["2026-11-09T00:00:00+00:00", 2]])


@pytest.fixture
def db(tmp_path):
    return Database(f"sqlite:///{tmp_path / 'outbox.db'}")


def _enqueue_triage(db, n):
    with db.session() as s:
        for i in range(n):
            enqueue(s, kind="triage", connector="fake", subject_id=f"T-{i}", event_key=f"triage:r:{i}",
                    payload=triage_payload(i))


def _statuses(db):
    with db.session() as s:
        return [e.status for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]


def test_enqueue_is_idempotent_per_event_key(db):
    _enqueue_triage(db, 3)
    _enqueue_triage(db, 3)
    assert len(_statuses(db)) == 3


def test_delivers_everything_once_and_links_tickets(db):
    fake = FakeTicketing()
    _enqueue_triage(db, 5)
    d = Dispatcher(db, {"fake": fake}, seed=1)
    assert d.run_once() == 5 and d.run_once() == 0
    assert _statuses(db) == [DELIVERED] * 5 and len(fake.tickets) == 5
    with db.session() as s:
        assert s.scalar(select(TicketLink.external_id).where(TicketLink.subject_id == "T-0")) == "1"


def test_retryable_failures_back_off_then_succeed(db):
    fake = FakeTicketing()
    fake.failures = [ConnectorError("503", retryable=True, status=503),
                     ConnectorError("429", retryable=True, status=429, retry_after=30)]
    _enqueue_triage(db, 1)
    d = Dispatcher(db, {"fake": fake}, DispatchPolicy(base_delay_s=1, max_delay_s=60), seed=1)
    d.run_once()
    with db.session() as s:
        e = s.scalars(select(OutboxEvent)).one()
        assert e.status == PENDING and e.attempts == 1 and "503" in e.last_error
    assert d.run_once() == 0  # not due yet
    _make_due(db)
    d.run_once()
    with db.session() as s:
        e = s.scalars(select(OutboxEvent)).one()
        wait = e.next_attempt_at.replace(tzinfo=UTC) - datetime.now(UTC)
        assert e.attempts == 2 and wait > timedelta(seconds=25)  # honours Retry-After: 30
    _make_due(db)
    d.run_once()
    assert _statuses(db) == [DELIVERED] and len(fake.tickets) == 1


def test_permanent_errors_and_exhausted_retries_are_dead_lettered_and_retryable_by_operators(db):
    fake = FakeTicketing()
    _enqueue_triage(db, 2)
    fake.failures = [ConnectorError("401", retryable=False, status=401)]
    d = Dispatcher(db, {"fake": fake}, DispatchPolicy(max_attempts=2, base_delay_s=0.01), seed=1)
    d.run_once()
    assert _statuses(db) == [DEAD, DELIVERED]
    assert retry_dead(db) == 1
    d.run_once()
    assert _statuses(db) == [DELIVERED, DELIVERED]
    _enqueue_triage_more(db)
    fake.failures = [ConnectorError("500", retryable=True, status=500)] * 2
    d.run_once()
    _make_due(db)
    d.run_once()
    assert _statuses(db)[-1] == DEAD


def _enqueue_triage_more(db):
    with db.session() as s:
        enqueue(s, kind="triage", connector="fake", subject_id="T-99", event_key="triage:r:99", payload=triage_payload(99))


def _make_due(db):
    with db.session() as s:
        s.execute(update(OutboxEvent).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))


def test_events_of_one_subject_are_delivered_in_order(db):
    fake = FakeTicketing()
    with db.session() as s:
        for det in (1, 2, 3):
            enqueue(s, kind="defect_alert", connector="fake", subject_id="A1", event_key=f"alert:A1:{det}",
                    payload=alert_payload(det))
    d = Dispatcher(db, {"fake": fake}, seed=1)
    fake.failures = [ConnectorError("down", retryable=True)]
    d.run_once()  # first detection fails; the later ones must wait behind it
    assert _statuses(db) == [PENDING] * 3 and fake.calls == 1
    _make_due(db)
    for _ in range(3):
        d.run_once()
    assert _statuses(db) == [DELIVERED] * 3
    assert len(fake.tickets) == 1 and fake.comments["1"] == ["A1:20", "A1:30"]


def test_crash_after_remote_success_is_redelivered_without_duplicates(db):
    """A dispatcher that pushed and died before recording: its lease expires, the next one re-sends,
    the connector finds the key, and there is still one ticket."""
    fake = FakeTicketing()
    _enqueue_triage(db, 3)
    crashed = Dispatcher(db, {"fake": fake}, DispatchPolicy(lease_s=0.2), worker_id="crashed", seed=1)
    for event in crashed.claim():  # pushed, never recorded
        fake.push_triage(_event_from_payload(event.kind, event.payload))
    survivor = Dispatcher(db, {"fake": fake}, DispatchPolicy(lease_s=0.2), worker_id="survivor", seed=1)
    assert survivor.run_once() == 0  # leases still held
    time.sleep(0.3)
    assert survivor.run_once() == 3
    assert _statuses(db) == [DELIVERED] * 3 and len(fake.tickets) == 3


def test_two_dispatchers_never_claim_the_same_event(db):
    _enqueue_triage(db, 20)
    a = Dispatcher(db, {"fake": FakeTicketing()}, DispatchPolicy(batch_size=7), worker_id="a")
    b = Dispatcher(db, {"fake": FakeTicketing()}, DispatchPolicy(batch_size=7), worker_id="b")
    ids_a = {e.id for e in a.claim()}
    ids_b = {e.id for e in b.claim()}
    assert len(ids_a) == len(ids_b) == 7 and not ids_a & ids_b


def test_backoff_grows_with_jitter_and_respects_cap():
    p = DispatchPolicy(base_delay_s=2, max_delay_s=60)
    rng = random.Random(0)
    delays = [p.backoff(n, None, rng) for n in range(1, 10)]
    assert all(d <= 60 for d in delays) and delays[5] > delays[0]
    assert p.backoff(1, 120, rng) == 120
