"""SQLite under concurrent API threads: writes queue on a lock, WAL checkpoints run off the request path."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from inference.storage.engine import Database, sqlite_lock
from inference.storage.tables import Classification


def _row(n: int) -> dict:
    now = datetime.now(UTC)
    return dict(request_id=f"r{n}", item_id=str(n), api_key_id=None, model_version="1", product_id=None,
                channel=None, text_masked="文本" * 200, inputs={"n": n}, result={"n": n}, priority="P3",
                created_at=now, received_at=now)


def test_sessions_on_one_sqlite_file_never_overlap(tmp_path):
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    a, b = Database(url), Database(url)  # two objects, one file: one lock
    assert sqlite_lock(url) is a._serialize is b._serialize
    spans: list[tuple[float, float]] = []

    def write(db: Database, n: int) -> None:
        with db.session() as s:
            start = time.perf_counter()
            s.connection().execute(insert(Classification.__table__), [_row(n)])
            time.sleep(0.02)
            spans.append((start, time.perf_counter()))

    threads = [threading.Thread(target=write, args=(db, n)) for n, db in enumerate([a, b] * 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans.sort()
    assert len(spans) == 8
    assert all(prev_end <= start for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False))
    with a.session() as s:
        assert s.scalar(select(func.count()).select_from(Classification)) == 8
    a.dispose(), b.dispose()


def test_background_checkpointer_owns_the_wal(tmp_path):
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    db = Database(url, checkpoint_interval_s=3600)  # the thread will not fire during the test
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    for n in range(300):  # one commit each, as the API does
        with db.session() as s:
            s.connection().execute(insert(Classification.__table__), [_row(n)])
    busy, frames, done = db.checkpointer.checkpoint()
    assert busy == 0 and frames > 0 and done == frames  # nothing had been checkpointed inside commits
    db.dispose()
    assert db.checkpointer is None
    with Database(url).session() as s:
        assert s.scalar(select(func.count()).select_from(Classification)) == 300


def test_background_checkpoints_run_on_their_interval(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'tick.db'}", checkpoint_interval_s=0.05)
    with db.session() as s:
        s.connection().execute(insert(Classification.__table__), [_row(n) for n in range(50)])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (db.checkpointer.last and db.checkpointer.last[1] > 0):
        time.sleep(0.02)
    busy, frames, done = db.checkpointer.last
    assert busy == 0 and frames > 0 and done == frames  # the thread, not this test, checkpointed the writes
    db.dispose()


def test_without_a_checkpointer_sqlite_checkpoints_itself(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'auto.db'}")
    assert db.checkpointer is None
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    db.dispose()
