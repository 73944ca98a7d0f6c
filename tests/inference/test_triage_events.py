"""Classifications write their ticketing triage event in the same transaction (transactional outbox)."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from inference.app import create_app
from inference.storage.tables import Classification, OutboxEvent
from inference.ticketing.base import TriageEvent


@pytest.fixture
def client(trained, tmp_path):
    settings, _ = trained
    settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'f.db'}", "auth_enabled": False,
                                           "model_reload_interval_s": 0, "ticketing_connector": "webhook",
                                           "ticketing_min_priority": "P3"})
    with TestClient(create_app(settings)) as c:
        yield c


def _events(client):
    with client.app.state.services.db.session() as s:
        return list(s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def test_each_classified_item_enqueues_one_masked_triage_event(client):
    items = [{"id": "A", "text": "充电宝冒烟了，我的电话13812345678", "product_id": "SKU-1", "ticket_id": "RT-9"},
             {"id": "B", "text": "快递丢了，第三次联系了", "contact_count": 3}]
    r = client.post("/v1/classify", json={"items": items}, headers={"X-Request-ID": "req-tr-1"})
    assert r.status_code == 200
    events = _events(client)
    assert [e.event_key for e in events] == ["triage:req-tr-1:A", "triage:req-tr-1:B"]
    first = TriageEvent(**events[0].payload)
    assert first.priority == "P1" and first.external_ticket_id == "RT-9" and events[0].subject_id == "RT-9"
    assert "13812345678" not in first.text and first.model_version == "1"
    assert all(e.connector == "webhook" and e.status == "pending" for e in events)


def test_items_the_caller_writes_back_and_low_priorities_are_not_pushed(client):
    items = [{"id": "C", "text": "充电宝冒烟了", "push_to_ticketing": False},
             {"id": "D", "text": "请问发票什么时候开"}, {"id": "F", "text": "还行吧，一般般"},
             {"id": "G", "text": "快递丢了，客服也不理人"}]
    r = client.post("/v1/classify", json={"items": items}, headers={"X-Request-ID": "req-tr-2"})
    assert r.status_code == 200
    expected = [res["id"] for res in r.json()["results"][1:] if res["priority"] in ("P1", "P2", "P3")]
    assert [e.event_key for e in _events(client)] == [f"triage:req-tr-2:{i}" for i in expected]
    assert r.json()["results"][0]["priority"] == "P1"  # pushed were it not for push_to_ticketing=false
    with client.app.state.services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Classification)) == 4


def test_a_failed_write_stores_neither_classification_nor_event(client, monkeypatch):
    services = client.app.state.services

    def broken(session, *args):
        raise RuntimeError("disk full")

    services.record_hooks.append(broken)
    try:
        r = client.post("/v1/classify", json={"items": [{"id": "E", "text": "快递丢了"}]})
    finally:
        services.record_hooks.remove(broken)
    assert r.status_code == 503 and "nothing was stored" in r.json()["detail"]
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Classification)) == 0
    assert _events(client) == []
