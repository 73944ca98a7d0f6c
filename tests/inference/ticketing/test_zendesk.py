"""Zendesk connector against a scripted fake of the Tickets API: the exact requests, and the retry decision."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import httpx
import pytest

from inference.ticketing import formatting as fmt
from inference.ticketing.base import (
    ConnectorError,
    DefectAlertEvent,
    DeliveryResult,
    TicketingConnector,
    TriageEvent,
)
from inference.ticketing.http import HostNotAllowed
from inference.ticketing.zendesk import ZendeskConfig, ZendeskConnector

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "zd-SECRET-token-9f8e7d6c"
AUTH = "Basic " + base64.b64encode(f"bot@acme.example/token:{TOKEN}".encode()).decode()
FIELDS = {"issue_types": 360001, "sentiment": 360002, "urgency": 360003, "model_version": 360004,
          "first_response_due": 360005, "resolution_due": 360006, "product_id": 360007, "alert_severity": 360008}


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def triage_event(**changes) -> TriageEvent:
    return dataclasses.replace(TriageEvent(**load("triage_event.json")), **changes)


def alert_event(**changes) -> DefectAlertEvent:
    data = load("alert_event.json")
    data["trend"] = [tuple(point) for point in data["trend"]]
    return dataclasses.replace(DefectAlertEvent(**data), **changes)


class Script:
    """Answers requests in the given order and records them; an unexpected request fails the test."""

    def __init__(self, *steps):
        self.steps = list(steps)  # (method, path, status, json body | Exception, headers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.steps, f"unexpected request {request.method} {request.url}"
        method, path, status, body, *headers = self.steps.pop(0)
        assert (request.method, request.url.path) == (method, path)
        self.requests.append(request)
        if isinstance(body, Exception):
            raise body
        return httpx.Response(status, json=body, headers=headers[0] if headers else None)


def connector(script: Script, **changes) -> ZendeskConnector:
    config = ZendeskConfig(base_url="https://acme.zendesk.com", email="bot@acme.example", api_token=TOKEN,
                           allowed_hosts=("*.zendesk.com",), custom_field_ids=FIELDS, alert_group_id=9001,
                           transport=httpx.MockTransport(script))
    return ZendeskConnector(dataclasses.replace(config, **changes))


def body(request: httpx.Request) -> dict:
    return json.loads(request.content.decode("utf-8"))


NO_TICKETS = {"tickets": [], "next_page": None, "previous_page": None, "count": 0}


def triage_fields(event: TriageEvent) -> list[dict]:
    return [
        {"id": 360001, "value": ["product_quality", "safety_hazard"]},
        {"id": 360002, "value": "negative"},
        {"id": 360003, "value": "critical"},
        {"id": 360004, "value": "feedback-clf-2.3.1"},
        {"id": 360005, "value": "2025-03-14T10:30:00+08:00"},
        {"id": 360006, "value": "2025-03-15T09:30:00+08:00"},
        {"id": 360007, "value": "SKU-KETTLE-1702"},
    ]


def test_create_triage_ticket_sends_exact_requests():
    event = triage_event()
    script = Script(("GET", "/api/v2/tickets.json", 200, NO_TICKETS),
                    ("POST", "/api/v2/tickets", 201, load("zendesk_ticket_created.json")))
    result = connector(script).push_triage(event)

    assert result == DeliveryResult("35436", "created")
    lookup, create = script.requests
    assert dict(lookup.url.params) == {"external_id": "triage-7f3a9c2e-item-88231"}
    assert lookup.headers["Authorization"] == AUTH
    assert create.headers["Authorization"] == AUTH
    assert create.headers["Content-Type"] == "application/json"
    assert body(create) == {"ticket": {
        "subject": "[P1] 商品质量/安全隐患 — 电热水壶用了两次底座就冒烟，还有焦糊味，差点着火！孩子在家太危险了，要求退货并赔…",
        "comment": {"body": fmt.triage_comment(event), "public": False},
        "priority": "urgent",
        "tags": ["feedback-ml", "product_quality", "safety_hazard"],
        "external_id": "triage-7f3a9c2e-item-88231",
        "custom_fields": triage_fields(event),
    }}
    assert "电热水壶".encode() in create.content  # UTF-8 on the wire, not \\u escapes
    assert not script.steps


def test_repushed_triage_key_finds_existing_ticket_and_does_not_create():
    script = Script(("GET", "/api/v2/tickets.json", 200, load("zendesk_tickets_by_external_id.json")))
    result = connector(script).push_triage(triage_event())
    assert result == DeliveryResult("35436", "noop")
    assert len(script.requests) == 1


def test_triage_for_existing_ticket_updates_with_internal_note():
    event = triage_event(external_ticket_id="35436", priority="P2")
    script = Script(("GET", "/api/v2/tickets/35436/comments", 200, load("zendesk_comments.json")),
                    ("PUT", "/api/v2/tickets/35436", 200, load("zendesk_ticket_updated.json")))
    result = connector(script).push_triage(event)

    assert result == DeliveryResult("35436", "updated")
    put = script.requests[1]
    assert put.headers["Authorization"] == AUTH
    assert body(put) == {"ticket": {
        "priority": "high",
        "additional_tags": ["feedback-ml", "product_quality", "safety_hazard"],
        "comment": {"body": fmt.triage_comment(event), "public": False},
        "custom_fields": triage_fields(event),
    }}


def test_explicit_external_id_wins_over_event_ticket_id():
    script = Script(("GET", "/api/v2/tickets/777/comments", 200, {"comments": [], "next_page": None}),
                    ("PUT", "/api/v2/tickets/777", 200, load("zendesk_ticket_updated.json")))
    assert connector(script).push_triage(triage_event(external_ticket_id="35436"), "777").external_id == "777"


def test_retried_update_whose_note_is_already_there_is_a_noop():
    event = triage_event(external_ticket_id="35436")
    comments = {"comments": [{"id": 1, "body": fmt.triage_comment(event), "public": False}], "next_page": None}
    script = Script(("GET", "/api/v2/tickets/35436/comments", 200, comments))
    assert connector(script).push_triage(event) == DeliveryResult("35436", "noop")


def test_create_alert_ticket_in_defects_queue():
    event = alert_event()
    script = Script(("GET", "/api/v2/tickets.json", 200, NO_TICKETS),
                    ("POST", "/api/v2/tickets", 201, load("zendesk_ticket_created.json")))
    result = connector(script).push_alert(event)

    assert result == DeliveryResult("35436", "created")
    assert dict(script.requests[0].url.params) == {"external_id": "alert-SKU-KETTLE-1702-t12"}
    assert body(script.requests[1]) == {"ticket": {
        "subject": "[P1] 缺陷告警 — 商品 SKU-KETTLE-1702: 冒烟/底座/焦糊味 (42 条, ×12.0)",
        "comment": {"body": fmt.alert_comment(event), "public": False},
        "priority": "urgent",
        "tags": ["feedback-ml", "defect-alert", "product_quality", "safety_hazard"],
        "external_id": "alert-SKU-KETTLE-1702-t12",
        "custom_fields": [{"id": 360001, "value": ["product_quality", "safety_hazard"]},
                          {"id": 360007, "value": "SKU-KETTLE-1702"},
                          {"id": 360008, "value": "critical"}],
        "type": "problem",
        "group_id": 9001,
    }}


def test_later_detection_found_by_lookup_adds_note_and_updates_priority():
    event = alert_event(severity="major")
    page1 = dict(load("zendesk_comments.json"),
                 next_page="https://acme.zendesk.com/api/v2/tickets/35436/comments.json?page=2")
    page2 = {"comments": [], "next_page": None, "previous_page": page1["next_page"], "count": 2}
    script = Script(("GET", "/api/v2/tickets.json", 200, load("zendesk_tickets_by_external_id.json")),
                    ("GET", "/api/v2/tickets/35436/comments", 200, page1),
                    ("GET", "/api/v2/tickets/35436/comments.json", 200, page2),
                    ("PUT", "/api/v2/tickets/35436", 200, load("zendesk_ticket_updated.json")))
    result = connector(script).push_alert(event)

    assert result == DeliveryResult("35436", "updated")
    assert dict(script.requests[2].url.params) == {"page": "2"}
    assert body(script.requests[3]) == {"ticket": {
        "priority": "high",
        "additional_tags": ["feedback-ml", "defect-alert", "product_quality", "safety_hazard"],
        "comment": {"body": fmt.alert_comment(event), "public": False},
        "custom_fields": [{"id": 360001, "value": ["product_quality", "safety_hazard"]},
                          {"id": 360007, "value": "SKU-KETTLE-1702"},
                          {"id": 360008, "value": "major"}],
    }}


def test_alert_with_external_id_skips_lookup():
    script = Script(("GET", "/api/v2/tickets/35436/comments", 200, load("zendesk_comments.json")),
                    ("PUT", "/api/v2/tickets/35436", 200, load("zendesk_ticket_updated.json")))
    assert connector(script).push_alert(alert_event(), "35436").action == "updated"


def test_repeated_detection_already_commented_is_a_noop():
    event = alert_event(idempotency_key="alert-SKU-KETTLE-1702-t12-2025-03-14T07:00")  # in the fixture
    script = Script(("GET", "/api/v2/tickets/35436/comments", 200, load("zendesk_comments.json")))
    assert connector(script).push_alert(event, "35436") == DeliveryResult("35436", "noop")


def test_next_page_on_a_foreign_host_is_refused():
    page = {"comments": [], "next_page": "https://evil.example.net/api/v2/tickets/1/comments.json?page=2"}
    script = Script(("GET", "/api/v2/tickets/35436/comments", 200, page))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_alert(alert_event(), "35436")
    assert not info.value.retryable


@pytest.mark.parametrize(("status", "headers", "retryable", "retry_after"), [
    (401, {}, False, None),
    (403, {}, False, None),
    (404, {}, False, None),
    (409, {}, False, None),
    (422, {}, False, None),
    (429, {"Retry-After": "93"}, True, 93.0),
    (500, {}, True, None),
    (503, {"Retry-After": "120"}, True, 120.0),
])
def test_status_handling_and_retry_decision(status, headers, retryable, retry_after):
    error = {"error": "RecordInvalid", "description": "Record validation errors"}
    script = Script(("GET", "/api/v2/tickets.json", 200, NO_TICKETS),
                    ("POST", "/api/v2/tickets", status, error, headers))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert (info.value.status, info.value.retryable, info.value.retry_after) == (status, retryable, retry_after)
    assert str(status) in str(info.value)


@pytest.mark.parametrize("exc", [httpx.ConnectError("[Errno 111] Connection refused"),
                                 httpx.ReadTimeout("timed out")])
def test_transport_errors_are_retryable(exc):
    script = Script(("GET", "/api/v2/tickets.json", 0, exc))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert info.value.retryable and info.value.status is None


def test_secrets_never_reach_error_messages_or_repr():
    echo = {"error": "Couldn't authenticate you", "debug": f"Authorization: {AUTH[6:]} token={TOKEN}"}
    script = Script(("GET", "/api/v2/tickets.json", 401, echo))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert TOKEN not in str(info.value) and AUTH[6:] not in str(info.value)
    assert not info.value.retryable

    script = Script(("GET", "/api/v2/tickets.json", 0, httpx.ConnectError(f"refused {TOKEN}")))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(connector(Script()).config)


def test_host_outside_allow_list_is_refused():
    with pytest.raises(HostNotAllowed):
        connector(Script(), base_url="https://acme.zendesk.evil.example")


def test_unknown_custom_field_name_fails_fast():
    with pytest.raises(ValueError, match="sentimnet"):
        connector(Script(), custom_field_ids={"sentimnet": 1})


def test_implements_the_protocol():
    assert isinstance(connector(Script()), TicketingConnector)
