"""Every classification is stored masked with request id and model version; /metrics exposes it all."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inference.app import create_app
from inference.storage.tables import Classification


@pytest.fixture(scope="module")
def client(trained, tmp_path_factory):
    settings, _ = trained
    db = tmp_path_factory.mktemp("store") / "feedback.db"
    settings = settings.model_copy(update={"database_url": f"sqlite:///{db}", "model_reload_interval_s": 0})
    with TestClient(create_app(settings)) as c:
        key, _ = c.app.state.services.keys.create("tests", ["classify", "read"])
        c.headers["Authorization"] = f"Bearer {key}"
        yield c


def test_classification_is_stored_masked_with_request_id_and_version(client):
    text = "收件人：王小明，电话13812345678，地址北京市朝阳区建国路88号，充电器冒烟了"
    r = client.post("/v1/classify", json={"items": [{"id": "PII-1", "text": text, "product_id": "SKU-C",
                                                       "contact_count": 2}]},
                    headers={"X-Request-ID": "req-pii-1"})
    assert r.status_code == 200
    with client.app.state.services.db.session() as s:
        row = s.scalars(select(Classification).where(Classification.item_id == "PII-1")).one()
    assert row.request_id == "req-pii-1" and row.model_version == "1" and row.product_id == "SKU-C"
    for secret in ("13812345678", "王小明", "建国路88号"):
        assert secret not in row.text_masked and secret not in str(row.inputs) and secret not in str(row.result)
    assert "冒烟" in row.text_masked and row.inputs["contact_count"] == 2
    assert row.result["priority"] == row.priority == r.json()["results"][0]["priority"]


def test_stored_classifications_read_back_through_the_api(client):
    client.post("/v1/classify", json={"items": [{"id": "R-1", "text": "发票开错了"}]},
                headers={"X-Request-ID": "req-read-1"})
    page = client.get("/v1/classifications", params={"request_id": "req-read-1"}).json()
    assert [x["item_id"] for x in page["items"]] == ["R-1"]
    assert page["items"][0]["result"]["id"] == "R-1"
    assert client.get("/v1/classifications", params={"limit": 0}).status_code == 422


def test_nothing_is_logged_with_the_text(client, caplog):
    caplog.set_level("DEBUG")
    client.post("/v1/classify", json={"items": [{"id": "L-1", "text": "我的手机号13900001111，快递丢了"}]})
    assert "13900001111" not in caplog.text and "快递丢了" not in caplog.text
    access = [r for r in caplog.records if r.name == "feedback.access"]
    assert access and access[-1].status == 200 and access[-1].duration_ms >= 0


def test_metrics_in_prometheus_format(client):
    client.post("/v1/classify", json={"items": [{"id": "M-1", "text": "充电宝冒烟了"}]})
    client.post("/v1/classify", json={"items": []})
    text = client.get("/metrics").text
    assert 'feedback_model_info{version="1"} 1.0' in text
    assert 'feedback_http_requests_total{method="POST",route="/v1/classify",status="200"}' in text
    assert 'feedback_http_requests_total{method="POST",route="/v1/classify",status="422"}' in text
    assert "feedback_http_request_duration_seconds_bucket" in text
    assert 'feedback_predictions_total{head="priority",label="P1"}' in text
    assert "feedback_http_errors_total" in text
