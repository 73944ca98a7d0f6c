"""The two ways a classify request runs: on the event loop with a no-wait write (small batches on
SQLite), or in a worker thread that waits for the database. Busy databases and large batches take the
second path, with the same response and exactly one stored copy."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import inference.routers.classify as classify_module
from inference.app import create_app
from inference.storage.engine import StorageBusy, sqlite_lock
from inference.storage.tables import Classification, IdempotencyRecord


@pytest.fixture()
def client(trained, tmp_path):
    settings, _ = trained
    settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'paths.db'}",
                                           "model_reload_interval_s": 0})
    with TestClient(create_app(settings)) as c:
        key, _ = c.app.state.services.keys.create("tests", ["classify"])
        c.headers["Authorization"] = f"Bearer {key}"
        assert c.post("/v1/classify", json=_body("warm-up")).status_code == 200  # caches the key
        yield c


@pytest.fixture()
def record_calls(monkeypatch):
    """Which ``wait`` each storing attempt used, in order."""
    calls: list[bool] = []
    real = classify_module.record_classifications

    def spy(*args, wait: bool = True, **kwargs):
        calls.append(wait)
        return real(*args, wait=wait, **kwargs)

    monkeypatch.setattr(classify_module, "record_classifications", spy)
    return calls


def _count(client, model=Classification) -> int:
    """Rows stored by the test itself (the fixture's warm-up request stored one classification)."""
    with client.app.state.services.db.session() as s:
        n = s.scalar(select(func.count()).select_from(model))
    return n - 1 if model is Classification else n


def _body(item_id: str, text: str = "耳机左边没声音，申请换货") -> dict:
    return {"items": [{"id": item_id, "text": text}]}


def test_a_small_batch_is_stored_without_waiting(client, record_calls):
    r = client.post("/v1/classify", json=_body("A-1"))
    assert r.status_code == 200
    assert record_calls == [False] and _count(client) == 1


def test_a_batch_over_the_inline_limit_goes_to_a_worker_thread(client, record_calls):
    limit = client.app.state.services.settings.inline_max_chars
    r = client.post("/v1/classify", json=_body("A-2", "质量太差了，" * (limit // 6 + 1)))
    assert r.status_code == 200
    assert record_calls == [True] and _count(client) == 1


def test_a_database_held_by_another_thread_moves_the_job_to_a_worker(client, record_calls):
    lock = sqlite_lock(client.app.state.services.db.url)
    held, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    r = client.post("/v1/classify", json=_body("A-3"))
    t.join()
    assert r.status_code == 200 and time.monotonic() - started >= 0.25  # it waited, in a thread
    assert record_calls == [False, True] and _count(client) == 1  # the no-wait attempt wrote nothing


def test_a_database_locked_by_another_process_moves_the_job_to_a_worker(client, record_calls):
    path = client.app.state.services.db.url.split("///", 1)[1]
    # another process's connection, as far as SQLite knows
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    threading.Timer(0.3, other.execute, args=("COMMIT",)).start()
    r = client.post("/v1/classify", json=_body("A-4"))
    other.close()
    assert r.status_code == 200
    assert record_calls == [False, True] and _count(client) == 1  # the no-wait attempt wrote nothing


def test_an_idempotent_job_resumes_in_the_worker_without_claiming_twice(client, monkeypatch):
    """The claim committed on the event loop; storing found the database busy; the worker must finish
    the same claim, not meet it as 'in progress' (409)."""
    real = classify_module.record_classifications

    def busy_once(*args, wait: bool = True, **kwargs):
        if not wait:
            raise StorageBusy("simulated")
        return real(*args, wait=wait, **kwargs)

    monkeypatch.setattr(classify_module, "record_classifications", busy_once)
    h = {"Idempotency-Key": "resume-1"}
    first = client.post("/v1/classify", json=_body("A-5"), headers=h)
    again = client.post("/v1/classify", json=_body("A-5"), headers=h)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert _count(client) == 1 and _count(client, IdempotencyRecord) == 1


def test_a_failure_after_the_claim_releases_it(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(classify_module, "record_classifications", broken)
    h = {"Idempotency-Key": "release-1"}
    r = client.post("/v1/classify", json=_body("A-6"), headers=h)
    assert r.status_code == 500 and "request_id" in r.json()
    assert _count(client, IdempotencyRecord) == 0 and _count(client) == 0  # the client may retry the key
