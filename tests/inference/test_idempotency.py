"""Idempotency-Key: a retried request returns the stored response and stores nothing twice."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from inference.app import create_app
from inference.storage.tables import Classification

BODY = {"items": [{"id": "T-1", "text": "耳机左边没声音，申请换货", "product_id": "SKU-EAR"}]}


@pytest.fixture(scope="module")
def client(trained, tmp_path_factory):
    settings, _ = trained
    db = tmp_path_factory.mktemp("idem") / "feedback.db"
    settings = settings.model_copy(update={"database_url": f"sqlite:///{db}", "model_reload_interval_s": 0})
    with TestClient(create_app(settings)) as c:
        key, _ = c.app.state.services.keys.create("tests", ["classify"])
        c.headers["Authorization"] = f"Bearer {key}"
        yield c


def _stored(client, item_id):
    with client.app.state.services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Classification).where(Classification.item_id == item_id))


def test_same_key_returns_the_stored_response_once_stored(client):
    h = {"Idempotency-Key": "req-0001"}
    first = client.post("/v1/classify", json=BODY, headers=h)
    second = client.post("/v1/classify", json=BODY, headers=h)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _stored(client, "T-1") == 1


def test_without_a_key_every_request_is_new(client):
    body = {"items": [{"id": "T-2", "text": "物流太慢"}]}
    a, b = client.post("/v1/classify", json=body), client.post("/v1/classify", json=body)
    assert a.json()["request_id"] != b.json()["request_id"] and _stored(client, "T-2") == 2


def test_same_key_different_body_is_422(client):
    h = {"Idempotency-Key": "req-0002"}
    assert client.post("/v1/classify", json=BODY, headers=h).status_code == 200
    other = {"items": [{"id": "T-1", "text": "另一段话"}]}
    r = client.post("/v1/classify", json=other, headers=h)
    assert r.status_code == 422 and "different request body" in r.json()["detail"]


def test_key_in_flight_is_409_and_a_failed_request_releases_its_key(client):
    services = client.app.state.services
    principal = services.keys.authenticate(client.headers["Authorization"].split()[1])
    assert services.idempotency.claim(principal.key_id, "req-0003", "whatever") is None
    r = client.post("/v1/classify", json=BODY, headers={"Idempotency-Key": "req-0003"})
    assert r.status_code == 409 and "in progress" in r.json()["detail"]
    services.idempotency.release(principal.key_id, "req-0003")
    assert client.post("/v1/classify", json=BODY, headers={"Idempotency-Key": "req-0003"}).status_code == 200


def test_keys_are_scoped_per_api_key(client):
    other_key, _ = client.app.state.services.keys.create("other", ["classify"])
    h = {"Idempotency-Key": "shared-key"}
    a = client.post("/v1/classify", json=BODY, headers=h)
    b = client.post("/v1/classify", json={"items": [{"id": "Z", "text": "别的"}]},
                    headers={**h, "Authorization": f"Bearer {other_key}"})
    assert a.status_code == b.status_code == 200 and "idempotent-replayed" not in b.headers


@pytest.mark.parametrize("bad", ["", "x" * 256, "has space", "中文"])
def test_malformed_idempotency_keys_are_422(client, bad):
    r = client.post("/v1/classify", json=BODY, headers={"Idempotency-Key": bad.encode("utf-8")})
    assert r.status_code == 422
