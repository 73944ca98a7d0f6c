"""The service and a real RT 5 together: classify → outbox → ticket; RT's scrip → our real API; and the
delivery guarantees under faults (RT down for 60 s; dispatcher SIGKILLed mid-batch)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select

from inference.app import create_app
from inference.outbox import DELIVERED, enqueue
from inference.storage.engine import Database
from inference.storage.tables import Classification, OutboxEvent
from inference.ticketing.factory import make_dispatcher
from inference.triage_events import triage_event
from tests.integration.conftest import RTInstance
from tests.integration.test_rt import cfs, comments, create_plain_ticket, get_ticket

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def search_all(api: httpx.Client, query: str) -> list[str]:
    ids, page = [], 1
    while True:
        r = api.get("/tickets", params={"query": query, "per_page": 100, "page": page})
        assert r.status_code == 200, r.text
        body = r.json()
        ids += [item["id"] for item in body["items"]]
        if page >= int(body.get("pages") or 1):
            return ids
        page += 1


def service_settings(trained_settings, rt: RTInstance, db_path: Path, **extra):
    return trained_settings.model_copy(update={
        "database_url": f"sqlite:///{db_path}", "ticketing_connector": "rt", "rt_url": rt.url,
        "rt_token": SecretStr(rt.token), "model_reload_interval_s": 0, "dispatch_base_delay_s": 0.5,
        "dispatch_max_delay_s": 4.0, "dispatch_lease_s": 5.0, "dispatch_max_attempts": 1000, **extra})


class LiveServer:
    """Our real API under uvicorn in a thread, on the port RT's scrip posts to."""

    def __init__(self, app, port: int):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "API did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def service(trained, rt, tmp_path):
    settings, _ = trained
    settings = service_settings(settings, rt, tmp_path / "svc.db")
    app = create_app(settings)
    with LiveServer(app, rt.classify_port):
        services = app.state.services
        services.keys.add_existing("rt-scrip", rt.classify_api_key, ["classify"])
        key, _ = services.keys.create("ticketing-test", ["classify", "read"])
        yield settings, services, key


def test_classify_reaches_rt_with_priority_fields_and_comment(rt, rt_api, service):
    settings, services, key = service
    # worded as the tiny corpus's hazard (the session model is trained on ~30 texts), so it has issue types
    # and suggested actions to carry
    item = {"id": "SHOP-7781", "text": "收件人：王小明 13812345678。充电宝冒烟差点着火，太危险了，我要打12315投诉",
            "product_id": "SKU-PB-1", "contact_count": 1}
    r = httpx.post(f"http://127.0.0.1:{rt.classify_port}/v1/classify", json={"items": [item]},
                   headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["priority"] == "P1" and result["suggested_actions"]
    dispatcher = make_dispatcher(settings, services.db)
    dispatcher.run(threading.Event(), poll_s=0.2, until_idle=True)
    with services.db.session() as s:
        event = s.scalars(select(OutboxEvent)).one()
    assert event.status == DELIVERED and event.external_id
    ticket = get_ticket(rt_api, event.external_id)
    assert int(ticket["Priority"]) == 100
    fields = cfs(ticket)
    assert fields["Urgency"] == ["critical"] and fields["Model Version"] == ["1"]
    assert set(fields["Issue Types"]) == {x["label"] for x in result["issue_types"]}
    [comment] = comments(rt_api, event.external_id)
    assert "12315" in comment["Content"] and any(a in comment["Content"] for a in result["suggested_actions"])
    assert "13812345678" not in comment["Content"] and "王小明" not in str(ticket)  # PII never leaves masked


def test_rt_scrip_calls_the_real_api_and_writes_back(rt, rt_api, service):
    _settings, services, _key = service
    ticket_id = create_plain_ticket(rt_api, "General", "冰箱完全不制冷", "买了三天的冰箱完全不制冷，第三次联系你们了，再不处理我就找媒体曝光")
    ticket = get_ticket(rt_api, ticket_id)
    fields = cfs(ticket)
    assert fields["Model Version"] == ["1"] and fields["Urgency"] == ["critical"]
    assert int(ticket["Priority"]) == 100
    with services.db.session() as s:
        stored = s.scalars(select(Classification).where(Classification.item_id == f"RT-{ticket_id}")).one()
        assert stored.api_key_id == "itrt0001" and stored.channel == "rt"
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 0  # the scrip wrote back itself


def _keys_in_rt(api: httpx.Client, prefix: str) -> list[str]:
    return search_all(api, f"Queue = 'Support' AND CF.{{Feedback Event Key}} LIKE '{prefix}'")


def _enqueue(db: Database, prefix: str, n: int) -> None:
    result = {"priority": "P2", "issue_types": [{"label": "logistics", "name": "物流配送"}],
              "sentiment": {"label": "negative", "score": -0.7}, "urgency": {"level": "high"},
              "reasons": ["包裹丢失 parcel lost"], "suggested_actions": ["优先补发"], "model_version": "1", "sla": {}}
    with db.session() as s:
        for i in range(n):
            ev = triage_event(prefix, {"id": f"{i:04d}", "text": f"快递丢了 #{i}"}, result)
            enqueue(s, kind="triage", connector="rt", subject_id=f"{prefix}:{i}", event_key=ev.idempotency_key,
                    payload=ev.to_dict())


def _comment_count(api: httpx.Client, ticket_id: str) -> int:
    history = api.get(f"/ticket/{ticket_id}/history", params={"fields": "Type", "per_page": 100}).json()
    return sum(1 for item in history["items"] if item["Type"] == "Comment")


def _assert_exactly_once(api: httpx.Client, prefix: str, n: int) -> None:
    """Count in RT itself: one ticket per event key, one comment on every ticket."""
    ids = _keys_in_rt(api, f"triage:{prefix}:%")
    assert len(ids) == n, f"{len(ids)} tickets for {n} events"
    keys = [cfs(get_ticket(api, t))["Feedback Event Key"][0] for t in ids]
    assert len(set(keys)) == n
    counts = [_comment_count(api, t) for t in ids]
    assert counts == [1] * n, f"comment counts {sorted(set(counts))}"
    print(f"RT holds {len(ids)} tickets and {sum(counts)} comments for {n} events")


@pytest.mark.slow
def test_rt_down_60s_then_everything_delivered_exactly_once(rt, rt_api, trained, tmp_path):
    settings = service_settings(trained[0], rt, tmp_path / "fault.db")
    db = Database(settings.database_url)
    env = {**os.environ, "RT_STATE_DIR": str(rt.state_dir), "RT_PORT": rt.url.split(":")[2].split("/")[0]}
    subprocess.run(["bash", str(REPO / "deploy/rt/stop_rt.sh")], env=env, check=True, timeout=60,
                   capture_output=True)
    try:
        _enqueue(db, "down", 200)
        dispatcher = make_dispatcher(settings, db)
        stop = threading.Event()
        worker = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"poll_s": 0.2})
        worker.start()
        time.sleep(60)
        with db.session() as s:
            assert s.scalar(select(func.count()).where(OutboxEvent.status == DELIVERED)) == 0
            assert s.scalar(select(func.max(OutboxEvent.attempts))) >= 3  # kept retrying with backoff
    finally:
        subprocess.run(["bash", str(REPO / "deploy/rt/setup_rt.sh")], env={**env, "RT_START_ONLY": "1",
                       "FEEDBACK_CLASSIFY_URL": f"http://127.0.0.1:{rt.classify_port}/v1/classify",
                       "FEEDBACK_RT_API_KEY": rt.classify_api_key}, check=True, timeout=300, capture_output=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with db.session() as s:
            if s.scalar(select(func.count()).where(OutboxEvent.status == DELIVERED)) == 200:
                break
        time.sleep(1)
    stop.set()
    worker.join(timeout=60)
    with db.session() as s:
        assert s.scalar(select(func.count()).where(OutboxEvent.status == DELIVERED)) == 200
    _assert_exactly_once(rt_api, "down", 200)


@pytest.mark.slow
def test_dispatcher_sigkilled_mid_batch_loses_and_duplicates_nothing(rt, rt_api, trained, tmp_path):
    settings = service_settings(trained[0], rt, tmp_path / "kill.db")
    db = Database(settings.database_url)
    _enqueue(db, "kill", 120)
    env = {**os.environ, "FEEDBACK_DATABASE_URL": settings.database_url, "FEEDBACK_TICKETING_CONNECTOR": "rt",
           "FEEDBACK_RT_URL": rt.url, "FEEDBACK_RT_TOKEN": rt.token, "FEEDBACK_DISPATCH_LEASE_S": "3",
           "FEEDBACK_DISPATCH_BASE_DELAY_S": "0.5", "FEEDBACK_LOG_FORMAT": "text"}
    cmd = [sys.executable, "-m", "pipelines.cli", "dispatch", "--poll", "0.2"]
    first = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with db.session() as s:
                done = s.scalar(select(func.count()).where(OutboxEvent.status == DELIVERED))
            if done >= 30:
                break
            assert first.poll() is None, first.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        os.kill(first.pid, signal.SIGKILL)  # mid-batch: it holds leases and has calls in flight
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    with db.session() as s:
        delivered_before = s.scalar(select(func.count()).where(OutboxEvent.status == DELIVERED))
    assert 30 <= delivered_before < 120
    second = subprocess.run([*cmd, "--until-idle"], env=env, cwd=REPO, capture_output=True, timeout=600)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    with db.session() as s:
        assert s.scalar(select(func.count()).where(OutboxEvent.status == DELIVERED)) == 120
    _assert_exactly_once(rt_api, "kill", 120)
