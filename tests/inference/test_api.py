"""The HTTP API through TestClient against a tiny registered model: schema, limits, errors."""

import json

import pytest
from fastapi.testclient import TestClient

from inference.app import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def client(trained, tmp_path_factory):
    settings, _ = trained
    db = tmp_path_factory.mktemp("api") / "feedback.db"
    settings = settings.model_copy(update={"max_batch_items": 5, "max_text_chars": 50, "max_body_bytes": 20_000,
                                           "database_url": f"sqlite:///{db}", "model_reload_interval_s": 0})
    with TestClient(create_app(settings)) as c:
        key, _ = c.app.state.services.keys.create("tests", ["classify", "read"])
        c.headers["Authorization"] = f"Bearer {key}"
        yield c


def test_health_and_ready(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"] == "1"


def test_valid_batch_returns_schema_in_order(client):
    items = [
        {"id": "a", "text": "快递太慢了，一个星期还没到", "product_id": "SKU-1", "channel": "chat"},
        {"id": "b", "text": "充电宝冒烟了，太危险", "created_at": "2026-11-23T10:00:00+08:00"},
        {"id": "c", "text": "很好，五星好评", "customer_tier": "vip", "contact_count": 1, "order_value": 99.5},
    ]
    r = client.post("/v1/classify", json={"items": items})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "1" and body["request_id"] == r.headers["x-request-id"]
    assert [x["id"] for x in body["results"]] == ["a", "b", "c"]
    for res in body["results"]:
        assert set(res) == {"id", "issue_types", "sentiment", "urgency", "priority", "reasons", "sla",
                            "escalate_to_human", "keywords", "suggested_actions", "model_version"}
        assert res["sentiment"]["label"] in {"negative", "neutral", "positive"}
        assert res["urgency"]["level"] in {"critical", "high", "medium", "low"}
        assert res["priority"] in {"P1", "P2", "P3", "P4"} and res["model_version"] == "1"
    smoke = body["results"][1]
    assert smoke["priority"] == "P1" and smoke["escalate_to_human"]
    # P1 SLA: first response within 1 h, resolution within 24 h of created_at
    assert smoke["sla"] == {"first_response_due": "2026-11-23T11:00:00+08:00",
                            "resolution_due": "2026-11-24T10:00:00+08:00"}
    assert any("安全" in r for r in smoke["reasons"])


def test_ticket_context_changes_priority_through_the_policy(client):
    base = {"id": "x", "text": "快递一个星期还没到，怎么回事"}
    plain = client.post("/v1/classify", json={"items": [base]}).json()["results"][0]
    repeated = client.post("/v1/classify", json={"items": [{**base, "contact_count": 4}]}).json()["results"][0]
    order = ["P4", "P3", "P2", "P1"]
    assert order.index(repeated["priority"]) == min(order.index(plain["priority"]) + 1, 2) or plain["priority"] == "P1"
    assert repeated["escalate_to_human"]
    assert any("多次联系" in r for r in repeated["reasons"])


@pytest.mark.parametrize(
    "payload, where",
    [
        ({"items": []}, "items"),
        ({"items": [{"id": "1"}]}, "text"),
        ({"items": [{"id": "1", "text": "   "}]}, "text"),
        ({"items": [{"id": "1", "text": 5}]}, "text"),
        ({"items": [{"id": "1", "text": "好", "created_at": "not a date"}]}, "created_at"),
        ({"items": [{"id": "1", "text": "好", "unknown": 1}]}, "unknown"),
        ({"items": [{"id": "1", "text": "好", "contact_count": -1}]}, "contact_count"),
        ({"items": [{"id": "1", "text": "好", "order_value": "lots"}]}, "order_value"),
        ({"items": [{"id": "1", "text": "bell\x07here"}]}, "text"),
        ({"items": [{"id": "bad\x00id", "text": "好"}]}, "id"),
        ({}, "items"),
        ([], "body"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(client, payload, where):
    r = client.post("/v1/classify", json=payload)
    assert r.status_code == 422
    assert where in str(r.json()["detail"]) and r.json()["message"]


def test_per_item_errors_name_the_item(client):
    items = [{"id": "1", "text": "好"}, {"id": "2", "text": "好"}, {"id": "3", "text": ""}]
    r = client.post("/v1/classify", json={"items": items})
    assert r.status_code == 422 and r.json()["message"].startswith("items[2].text")


@pytest.mark.parametrize("raw", [
    b"{not json", b"\xff\xfe{}", b'{"items": [{"id": "1", "text": "\\ud800"}]}',
    b'{"items": [{"id": "1", "text": "ok", "order_value": NaN}]}', b"", b"null", b'"items"',
])
def test_malformed_bodies_are_4xx_with_a_message(client, raw):
    r = client.post("/v1/classify", content=raw, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["detail"]


def test_batch_text_and_body_limits(client):
    too_many = {"items": [{"id": str(i), "text": "好"} for i in range(6)]}
    r = client.post("/v1/classify", json=too_many)
    assert r.status_code == 413 and "limit is 5" in r.json()["detail"]
    r = client.post("/v1/classify", json={"items": [{"id": "1", "text": "好" * 51}]})
    assert r.status_code == 422 and "items[0]" in r.json()["detail"]
    huge = json.dumps({"items": [{"id": "1", "text": "好" * 30_000}]}).encode()
    r = client.post("/v1/classify", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_chunked_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(50):
            yield b" " * 1000
    r = client.post("/v1/classify", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_request_id_is_echoed_or_made(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 32


def test_openapi_has_chinese_examples(client):
    spec = client.get("/openapi.json").json()
    text = json.dumps(spec, ensure_ascii=False)
    assert "充电宝" in text and "/v1/classify" in spec["paths"]


def test_not_ready_without_a_champion(tmp_path):
    settings = make_settings(tmp_path, auth_enabled=False)
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 503
        r = c.post("/v1/classify", json={"items": [{"id": "1", "text": "好"}]})
        assert r.status_code == 503 and "model not loaded" in r.json()["detail"]
