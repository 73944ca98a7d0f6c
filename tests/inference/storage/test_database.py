"""Migrations, classification storage, keys, idempotency and the outbox on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from inference.app import create_app
from inference.auth import KeyStore
from inference.outbox import Dispatcher, enqueue
from inference.storage.engine import Database, upgrade
from inference.storage.tables import Classification, OutboxEvent


def test_migrations_create_every_table_and_are_idempotent(database_url):
    db = Database(database_url)
    upgrade(db.engine)  # second run is a no-op
    tables = set(inspect(db.engine).get_table_names())
    assert {"api_keys", "classifications", "idempotency_records", "outbox_events", "ticket_links",
            "defect_alerts", "alert_status_changes", "alembic_version"} <= tables
    db.dispose()


def test_api_stores_and_reads_classifications(database_url, trained):
    settings, _ = trained
    settings = settings.model_copy(update={"database_url": database_url, "model_reload_interval_s": 0})
    with TestClient(create_app(settings)) as c:
        key, _ = c.app.state.services.keys.create("t", ["classify", "read"])
        h = {"Authorization": f"Bearer {key}"}
        items = [{"id": f"DB-{i}", "text": t, "product_id": "SKU-DB", "created_at": "2026-11-20T09:00:00+08:00"}
                 for i, t in enumerate(["联系人：李雷 手机 13912345678 充电器冒烟", "快递太慢了", "发票什么时候开"])]
        r = c.post("/v1/classify", json={"items": items}, headers={**h, "Idempotency-Key": "db-1"})
        assert r.status_code == 200
        again = c.post("/v1/classify", json={"items": items}, headers={**h, "Idempotency-Key": "db-1"})
        assert again.content == r.content and again.headers["idempotent-replayed"] == "true"
        page = c.get("/v1/classifications", params={"product_id": "SKU-DB"}, headers=h).json()["items"]
        assert sorted(x["item_id"] for x in page) == ["DB-0", "DB-1", "DB-2"]
        first = next(x for x in page if x["item_id"] == "DB-0")
        assert "13912345678" not in first["text_masked"] and "李雷" not in first["text_masked"]
        with c.app.state.services.db.session() as s:
            rows = list(s.scalars(select(Classification).where(Classification.product_id == "SKU-DB")))
        assert len(rows) == 3
        created = rows[0].created_at if rows[0].created_at.tzinfo else rows[0].created_at.replace(tzinfo=UTC)
        assert created == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def test_keys_and_outbox_claims(database_url):
    db = Database(database_url)
    keys = KeyStore(db)
    key, row = keys.create("pg", ["read"])
    assert keys.authenticate(key).key_id == row.id
    with db.session() as s:
        for i in range(6):
            enqueue(s, kind="triage", connector="fake", subject_id=f"S{i}", event_key=f"k{i}", payload={})
    a = Dispatcher(db, {"fake": object()}, worker_id="a")
    b = Dispatcher(db, {"fake": object()}, worker_id="b")
    a.policy.batch_size = b.policy.batch_size = 4
    got_a, got_b = {e.id for e in a.claim()}, {e.id for e in b.claim()}
    assert len(got_a) == 4 and len(got_b) == 2 and not got_a & got_b
    with db.session() as s:
        assert s.query(OutboxEvent).count() == 6
    db.dispose()


def test_a_no_wait_session_writes_or_refuses_but_never_blocks(database_url):
    from inference.storage.engine import StorageBusy

    db = Database(database_url)
    assert db.can_write_without_waiting == database_url.startswith("sqlite")
    row = dict(request_id="nw", item_id="1", api_key_id=None, model_version="1", product_id=None, channel=None,
               text_masked="x", inputs={}, result={}, priority="P3", created_at=datetime.now(UTC),
               received_at=datetime.now(UTC))
    if not db.can_write_without_waiting:  # PostgreSQL: callers always take the waiting path
        try:
            with db.session(wait=False) as s:
                raise AssertionError("a no-wait session opened on PostgreSQL")
        except StorageBusy:
            pass
        db.dispose()
        return
    with db.session(wait=False) as s:
        s.connection().exec_driver_sql("SELECT 1")
        s.add(Classification(**row))
    import sqlite3
    import time

    other = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    started = time.monotonic()
    try:
        with db.session(wait=False) as s:
            s.add(Classification(**{**row, "item_id": "2"}))
        raise AssertionError("wrote while another connection held the lock")
    except StorageBusy:
        assert time.monotonic() - started < 1.0
    other.execute("COMMIT")
    other.close()
    with db.session() as s:
        assert s.scalars(select(Classification.item_id)).all() == ["1"]
        busy_timeout = s.connection().exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert busy_timeout == 30_000  # restored on the pooled connection
    db.dispose()
