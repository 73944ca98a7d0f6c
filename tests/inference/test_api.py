"""The HTTP API through TestClient against a tiny registered model."""

import pytest
from fastapi.testclient import TestClient

from inference.app import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def client(trained):
    settings, _ = trained
    with TestClient(create_app(settings.model_copy(update={"max_batch_items": 5, "max_text_chars": 50}))) as c:
        yield c


def test_health_and_ready(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"] == "1"


def test_valid_batch_returns_schema_in_order(client):
    items = [
        {"id": "a", "text": "快递太慢了，一个星期还没到", "product_id": "SKU-1", "channel": "chat"},
        {"id": "b", "text": "充电宝冒烟了，太危险", "created_at": "2026-11-23T10:00:00+08:00"},
        {"id": "c", "text": "很好，五星好评"},
    ]
    r = client.post("/v1/classify", json={"items": items})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "1"
    assert [x["id"] for x in body["results"]] == ["a", "b", "c"]
    for res in body["results"]:
        assert set(res) == {"id", "issue_types", "sentiment", "urgency", "priority", "reasons"}
        assert res["sentiment"]["label"] in {"negative", "neutral", "positive"}
        assert res["urgency"]["level"] in {"critical", "high", "medium", "low"}
        assert res["priority"] in {"P1", "P2", "P3", "P4"}


@pytest.mark.parametrize(
    "payload, where",
    [
        ({"items": []}, "items"),
        ({"items": [{"id": "1"}]}, "text"),
        ({"items": [{"id": "1", "text": "   "}]}, "text"),
        ({"items": [{"id": "1", "text": 5}]}, "text"),
        ({"items": [{"id": "1", "text": "好", "created_at": "not a date"}]}, "created_at"),
        ({"items": [{"id": "1", "text": "好", "unknown": 1}]}, "unknown"),
        ({}, "items"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(client, payload, where):
    r = client.post("/v1/classify", json=payload)
    assert r.status_code == 422
    assert where in str(r.json()["detail"])


def test_malformed_bodies_are_4xx_with_a_message(client):
    r = client.post("/v1/classify", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]
    r = client.post("/v1/classify", content=b"\xff\xfe{}", headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and r.json()["detail"]


def test_batch_and_text_limits(client):
    too_many = {"items": [{"id": str(i), "text": "好"} for i in range(6)]}
    r = client.post("/v1/classify", json=too_many)
    assert r.status_code == 413 and "limit is 5" in r.json()["detail"]
    r = client.post("/v1/classify", json={"items": [{"id": "1", "text": "好" * 51}]})
    assert r.status_code == 422 and "items[0]" in r.json()["detail"]


def test_not_ready_without_a_champion(tmp_path):
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 503
        r = c.post("/v1/classify", json={"items": [{"id": "1", "text": "好"}]})
        assert r.status_code == 503 and "model not loaded" in r.json()["detail"]
