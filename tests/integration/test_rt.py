"""RTConnector and the classify scrip against a real Request Tracker 5 (REST2), read back through REST2."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import datetime

import httpx
import pytest

from inference.schemas import ClassifyRequest, ClassifyResponse
from inference.ticketing import formatting as fmt
from inference.ticketing.base import ConnectorError, DefectAlertEvent, DeliveryResult, TriageEvent
from inference.ticketing.rt import RTConfig, RTConnector, ticketsql_quote

from .conftest import ClassifyStandIn, RTInstance, classify_answer, free_port

pytestmark = pytest.mark.integration


# -- helpers ------------------------------------------------------------------------------------------------

def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def triage_event(**changes) -> TriageEvent:
    event = TriageEvent(
        idempotency_key=unique("triage"),
        item_id="CHAT-20261123-0042",
        text="充电宝用了两天就鼓包发烫，差点烧到孩子，你们必须给个说法！",
        priority="P1",
        issue_types=["product_quality", "safety_hazard"],
        issue_type_names=["商品质量", "安全隐患"],
        sentiment="negative",
        sentiment_score=-0.87,
        urgency="critical",
        model_version="17",
        first_response_due="2026-11-23T11:15:00+08:00",
        resolution_due="2026-11-24T10:15:00+08:00",
        reasons=["安全隐患关键词: 鼓包, 发烫, 烧", "情绪强烈负面"],
        suggested_actions=["1 小时内电话联系顾客", "通知品控排查同批次"],
        escalate_to_human=True,
        product_id="SKU-PB-10000",
    )
    return dataclasses.replace(event, **changes)


def alert_event(alert_id: str, window: str, **changes) -> DefectAlertEvent:
    event = DefectAlertEvent(
        idempotency_key=f"{alert_id}-{window}",
        alert_id=alert_id,
        product_id="SKU-KETTLE-1702",
        topic_id="t12",
        keywords=["冒烟", "底座", "焦糊味"],
        window_start=f"2026-11-23T{window}:00+08:00",
        window_end=f"2026-11-23T{window}:59+08:00",
        count=18,
        baseline=3.5,
        ratio=5.1,
        severity="major",
        examples=["底座冒烟，插头发烫", "烧水时跳闸，闻到焦糊味"],
        trend=[("2026-11-23T06:00:00+08:00", 3), ("2026-11-23T07:00:00+08:00", 18)],
        issue_types=["product_quality", "safety_hazard"],
    )
    return dataclasses.replace(event, **changes)


def connector(rt: RTInstance, **changes) -> RTConnector:
    config = RTConfig(base_url=rt.url, token=rt.token, allowed_hosts=("127.0.0.1",), timeout=30.0)
    return RTConnector(dataclasses.replace(config, **changes))


def get_ticket(api: httpx.Client, ticket_id: str) -> dict:
    response = api.get(f"/ticket/{ticket_id}")
    assert response.status_code == 200, response.text
    return response.json()


def cfs(ticket: dict) -> dict[str, list[str]]:
    return {cf["name"]: cf["values"] for cf in ticket.get("CustomFields", [])}


def comments(api: httpx.Client, ticket_id: str) -> list[dict]:
    """The ticket's Comment transactions' attachments: [{"Subject", "Content"}], oldest first."""
    history = api.get(f"/ticket/{ticket_id}/history", params={"fields": "Type", "per_page": 100}).json()
    comment_txns = {item["id"] for item in history["items"] if item["Type"] == "Comment"}
    attachments = api.get(f"/ticket/{ticket_id}/attachments",
                          params={"fields": "Subject,Content,TransactionId", "per_page": 100}).json()
    found = [a for a in attachments["items"] if a["TransactionId"] in comment_txns]
    assert len(found) == len(comment_txns), (found, comment_txns)
    return found


def search_ids(api: httpx.Client, query: str) -> list[str]:
    response = api.get("/tickets", params={"query": query, "per_page": 100})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def create_plain_ticket(api: httpx.Client, queue: str, subject: str, content: str) -> str:
    response = api.post("/ticket", json={"Queue": queue, "Subject": subject, "Content": content,
                                         "ContentType": "text/plain"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


# -- triage -------------------------------------------------------------------------------------------------

def test_push_triage_creates_ticket_with_priority_fields_and_comment(rt: RTInstance, rt_api: httpx.Client):
    event = triage_event()
    with connector(rt) as rt_connector:
        result = rt_connector.push_triage(event)
    assert result.action == "created" and result.external_id.isdigit()

    ticket = get_ticket(rt_api, result.external_id)
    assert search_ids(rt_api, f"id = {result.external_id} AND Queue = 'Support'") == [result.external_id]
    assert int(ticket["Priority"]) == 100 and int(ticket["InitialPriority"]) == 100
    assert ticket["Subject"] == fmt.triage_summary(event)
    fields = cfs(ticket)
    assert sorted(fields["Issue Types"]) == ["product_quality", "safety_hazard"]
    assert fields["Sentiment"] == ["negative"]
    assert fields["Urgency"] == ["critical"]
    assert fields["Model Version"] == ["17"]
    assert fields["SLA Due"] == ["2026-11-23T11:15:00+08:00"]
    assert fields["Feedback Event Key"] == [event.idempotency_key]

    [comment] = comments(rt_api, result.external_id)
    content = comment["Content"]
    assert fmt.event_marker(event.idempotency_key) in comment["Subject"]
    for expected in [*event.reasons, *event.suggested_actions, "2026-11-23T11:15:00+08:00",
                     "2026-11-24T10:15:00+08:00", "模型版本: 17", fmt.event_marker(event.idempotency_key)]:
        assert expected in content
    # Internal comment, not correspondence: nothing went to requestors.
    history = rt_api.get(f"/ticket/{result.external_id}/history", params={"fields": "Type"}).json()
    assert "Correspond" not in {item["Type"] for item in history["items"]}


def test_push_triage_same_key_twice_gives_one_ticket(rt: RTInstance, rt_api: httpx.Client):
    event = triage_event(idempotency_key=unique("triage-o'quote\\key"), priority="P3")  # TicketSQL escaping
    with connector(rt) as rt_connector:
        first = rt_connector.push_triage(event)
        second = rt_connector.push_triage(event)
    assert first.action == "created"
    assert second == DeliveryResult(first.external_id, "noop")
    fields = cfs(get_ticket(rt_api, first.external_id))
    assert fields["Feedback Event Key"] == [event.idempotency_key]
    assert int(get_ticket(rt_api, first.external_id)["Priority"]) == 50
    assert search_ids(rt_api, f"CF.{{Feedback Event Key}} = {ticketsql_quote(event.idempotency_key)}") == [
        first.external_id]
    assert len(comments(rt_api, first.external_id)) == 1


def test_push_triage_retry_after_kill_between_create_and_comment(rt: RTInstance, rt_api: httpx.Client):
    """RT created the ticket, the dispatcher died before the comment: the retry adds it once, creates nothing."""
    event = triage_event()
    response = rt_api.post("/ticket", json={
        "Queue": "Support", "Subject": fmt.triage_summary(event), "Content": event.text,
        "ContentType": "text/plain", "Priority": 100, "InitialPriority": 100,
        "CustomFields": {"Feedback Event Key": event.idempotency_key, "Model Version": "17"}})
    assert response.status_code == 201, response.text
    ticket_id = response.json()["id"]
    with connector(rt) as rt_connector:
        assert rt_connector.push_triage(event) == DeliveryResult(ticket_id, "noop")
        assert rt_connector.push_triage(event) == DeliveryResult(ticket_id, "noop")
    assert search_ids(rt_api, f"CF.{{Feedback Event Key}} = '{event.idempotency_key}'") == [ticket_id]
    [comment] = comments(rt_api, ticket_id)
    assert fmt.event_marker(event.idempotency_key) in comment["Content"]


def test_push_triage_updates_external_ticket(rt: RTInstance, rt_api: httpx.Client):
    ticket_id = create_plain_ticket(rt_api, "Support", "退款一个月还没到账", "退款申请一个月了还没到账，客服也不回复")
    event = triage_event(priority="P2", issue_types=["return_refund", "customer_service"],
                         issue_type_names=["退货退款", "客服"], urgency="high", model_version="18",
                         first_response_due=None, external_ticket_id=f"RT-{ticket_id}")
    with connector(rt) as rt_connector:
        result = rt_connector.push_triage(event)
        again = rt_connector.push_triage(event)
    assert result == DeliveryResult(ticket_id, "updated")
    assert again == DeliveryResult(ticket_id, "noop")

    ticket = get_ticket(rt_api, ticket_id)
    assert int(ticket["Priority"]) == 75
    assert ticket["Subject"] == "退款一个月还没到账"  # an agent's ticket keeps its subject
    fields = cfs(ticket)
    assert sorted(fields["Issue Types"]) == ["customer_service", "return_refund"]
    assert fields["Urgency"] == ["high"] and fields["Model Version"] == ["18"]
    assert fields["SLA Due"] == ["2026-11-24T10:15:00+08:00"]  # resolution due when no first-response due
    assert fields.get("Feedback Event Key", []) == []  # only tickets the connector created carry a key
    [comment] = comments(rt_api, ticket_id)
    assert fmt.event_marker(event.idempotency_key) in comment["Content"]

    # The explicit external_id argument wins over the event's field.
    with connector(rt) as rt_connector:
        other = triage_event(priority="P4", external_ticket_id=None)
        assert rt_connector.push_triage(other, external_id=ticket_id) == DeliveryResult(ticket_id, "updated")
    assert int(get_ticket(rt_api, ticket_id)["Priority"]) == 0
    assert len(comments(rt_api, ticket_id)) == 2


# -- defect alerts ------------------------------------------------------------------------------------------

def test_push_alert_second_detection_updates_same_ticket(rt: RTInstance, rt_api: httpx.Client):
    alert_id = unique("alert-SKU-KETTLE-1702-t12")
    first = alert_event(alert_id, "07:00", severity="major")
    second = alert_event(alert_id, "08:00", severity="critical", count=42, ratio=12.0)
    with connector(rt) as rt_connector:
        created = rt_connector.push_alert(first)
        assert created.action == "created"
        ticket = get_ticket(rt_api, created.external_id)
        assert int(ticket["Priority"]) == 75 and int(ticket["InitialPriority"]) == 75
        assert ticket["Subject"] == fmt.alert_summary(first)
        fields = cfs(ticket)
        assert fields["Defect Alert Id"] == [alert_id]
        assert fields["Feedback Event Key"] == [first.idempotency_key]
        assert sorted(fields["Issue Types"]) == ["product_quality", "safety_hazard"]
        assert comments(rt_api, created.external_id) == []

        updated = rt_connector.push_alert(second, external_id=created.external_id)
    assert updated == DeliveryResult(created.external_id, "updated")
    assert search_ids(rt_api, f"CF.{{Defect Alert Id}} = '{alert_id}'") == [created.external_id]
    assert int(get_ticket(rt_api, created.external_id)["Priority"]) == 100
    [comment] = comments(rt_api, created.external_id)
    assert "投诉数: 42" in comment["Content"]
    assert fmt.event_marker(second.idempotency_key) in comment["Content"]


def test_push_alert_redelivered_detection_adds_no_comment(rt: RTInstance, rt_api: httpx.Client):
    alert_id = unique("alert-SKU-KETTLE-1702-t13")
    first = alert_event(alert_id, "07:00")
    second = alert_event(alert_id, "08:00", severity="critical")
    third = alert_event(alert_id, "09:00", severity="minor")
    with connector(rt) as rt_connector:
        ticket_id = rt_connector.push_alert(first).external_id
        assert rt_connector.push_alert(second, external_id=ticket_id).action == "updated"
        # the same detection again (dispatcher killed before recording): no second comment
        assert rt_connector.push_alert(second, external_id=ticket_id) == DeliveryResult(ticket_id, "noop")
        # the first detection again, with or without the recorded ticket id: no new ticket, no comment
        assert rt_connector.push_alert(first) == DeliveryResult(ticket_id, "noop")
        assert rt_connector.push_alert(first, external_id=ticket_id) == DeliveryResult(ticket_id, "noop")
        # a later detection whose dispatcher lost the ticket id: found by Defect Alert Id, applied once
        assert rt_connector.push_alert(third) == DeliveryResult(ticket_id, "updated")
        assert rt_connector.push_alert(third) == DeliveryResult(ticket_id, "noop")
    assert search_ids(rt_api, f"CF.{{Defect Alert Id}} = '{alert_id}'") == [ticket_id]
    markers = [c["Content"] for c in comments(rt_api, ticket_id)]
    assert len(markers) == 2
    assert fmt.event_marker(second.idempotency_key) in markers[0]
    assert fmt.event_marker(third.idempotency_key) in markers[1]
    assert int(get_ticket(rt_api, ticket_id)["Priority"]) == 50  # the latest detection's severity


# -- failures -----------------------------------------------------------------------------------------------

def test_failures_map_to_connector_errors(rt: RTInstance):
    with connector(rt) as rt_connector:
        with pytest.raises(ConnectorError) as missing:
            rt_connector.push_triage(triage_event(external_ticket_id="999999"))
        assert missing.value.status == 404 and not missing.value.retryable
        with pytest.raises(ConnectorError) as bad_id:
            rt_connector.push_triage(triage_event(external_ticket_id="JIRA-12"))
        assert not bad_id.value.retryable
    with connector(rt, token="1-2-not-a-token") as bad_token, pytest.raises(ConnectorError) as denied:
        bad_token.push_triage(triage_event())
    assert denied.value.status == 401 and not denied.value.retryable
    assert "not-a-token" not in str(denied.value)
    with connector(rt, base_url=f"http://127.0.0.1:{free_port()}/rt", timeout=3.0) as down, \
            pytest.raises(ConnectorError) as refused:
        down.push_triage(triage_event())
    assert refused.value.retryable and refused.value.status is None
    assert rt.token not in str(refused.value)


# -- the classify scrip (RT -> POST /v1/classify) -----------------------------------------------------------

def test_scrip_classifies_new_ticket(rt: RTInstance, rt_api: httpx.Client, classify_standin: ClassifyStandIn):
    before = datetime.now().astimezone()
    subject, content = "充电宝鼓包冒烟", "充电宝用了两天就鼓包发烫，还冒烟了，差点烧到孩子！"
    started = time.monotonic()
    ticket_id = create_plain_ticket(rt_api, "General", subject, content)
    elapsed = time.monotonic() - started

    [request] = [r for r in classify_standin.requests
                 if any(i.get("id") == f"RT-{ticket_id}" for i in (r["body"] or {}).get("items", []))]
    assert request["path"] == "/v1/classify"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"] == f"Bearer {rt.classify_api_key}"
    assert headers["content-type"].startswith("application/json")
    ClassifyRequest.model_validate(request["body"])  # the real API's request schema accepts it
    ClassifyResponse.model_validate(classify_answer(request["body"]["items"]))  # and the stand-in answers right
    [item] = request["body"]["items"]
    assert set(item) == {"id", "text", "channel", "created_at", "ticket_id", "push_to_ticketing"}
    assert item["push_to_ticketing"] is False and item["ticket_id"] == str(ticket_id)
    assert item["text"] == f"{subject}\n{content}"
    assert item["channel"] == "rt"
    created_at = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
    assert abs((created_at - before).total_seconds()) < 120

    ticket = get_ticket(rt_api, ticket_id)
    assert int(ticket["Priority"]) == 100, (ticket["Priority"], elapsed)
    fields = cfs(ticket)
    assert sorted(fields["Issue Types"]) == ["product_quality", "safety_hazard"]
    assert fields["Sentiment"] == ["negative"]
    assert fields["Urgency"] == ["critical"]
    assert fields["Model Version"] == ["42"]
    [comment] = comments(rt_api, ticket_id)
    assert "提到“冒烟”“鼓包”: 安全隐患关键词" in comment["Content"]
    assert "商品质量 (product_quality, 0.93)" in comment["Content"]


def test_scrip_skips_tickets_the_connector_triaged(rt: RTInstance, rt_api: httpx.Client,
                                                   classify_standin: ClassifyStandIn):
    event = triage_event(priority="P3")
    with connector(rt) as rt_connector:
        ticket_id = rt_connector.push_triage(event).external_id
    assert classify_standin.bodies_for(f"RT-{ticket_id}") == []
    ticket = get_ticket(rt_api, ticket_id)
    assert int(ticket["Priority"]) == 50 and cfs(ticket)["Model Version"] == ["17"]
    assert len(comments(rt_api, ticket_id)) == 1

    # a ticket an agent or customer opens in Support is classified
    other = create_plain_ticket(rt_api, "Support", "耳机没声音", "耳机左边没声音")
    assert len(classify_standin.bodies_for(f"RT-{other}")) == 1
    assert cfs(get_ticket(rt_api, other))["Model Version"] == ["42"]


def test_scrip_service_down_ticket_still_created(rt: RTInstance, rt_api: httpx.Client):
    # No stand-in: nothing listens on the classify port.
    response = rt_api.post("/ticket", json={"Queue": "General", "Subject": "物流太慢",
                                            "Content": "快递一个星期还没到", "ContentType": "text/plain"})
    assert response.status_code == 201, response.text
    ticket_id = response.json()["id"]
    ticket = get_ticket(rt_api, ticket_id)
    assert int(ticket["Priority"]) == 0
    fields = cfs(ticket)
    for name in ("Issue Types", "Sentiment", "Urgency", "Model Version"):
        assert fields.get(name, []) == []
    assert comments(rt_api, ticket_id) == []
    deadline = time.monotonic() + 10
    while f"classify for ticket {ticket_id} failed" not in rt.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the failed classify call was not logged"
        time.sleep(0.2)
