"""Freshdesk connector against a scripted fake of API v2: exact requests, tag lookups, notes, retry decision."""

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
from inference.ticketing.freshdesk import FreshdeskConfig, FreshdeskConnector, to_html
from inference.ticketing.http import HostNotAllowed

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "fdK3y-SECRET-Zq81"
AUTH = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
NOW = 1741917600.0  # 2025-03-14T02:00:00Z
FIELDS = {"issue_types": "cf_issue_types", "sentiment": "cf_sentiment", "urgency": "cf_urgency",
          "model_version": "cf_model_version", "first_response_due": "cf_first_response_due",
          "resolution_due": "cf_resolution_due", "alert_severity": "cf_alert_severity"}
TRIAGE_TAG = fmt.key_tag("triage-7f3a9c2e-item-88231")
ALERT_TAG = fmt.key_tag("alert-SKU-KETTLE-1702-t12")
LIST_PARAMS = {"updated_since": "2025-03-14T01:00:00Z", "order_by": "created_at", "order_type": "desc",
               "per_page": "100", "email": "feedback-bot@acme.example"}
NO_RESULTS = {"results": [], "total": 0}


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


def connector(script: Script, **changes) -> FreshdeskConnector:
    config = FreshdeskConfig(base_url="https://acme.freshdesk.com", api_key=API_KEY,
                             allowed_hosts=("acme.freshdesk.com",), requester_email="feedback-bot@acme.example",
                             custom_fields=FIELDS, alert_ticket_type="Problem", alert_group_id=3000099,
                             transport=httpx.MockTransport(script))
    return FreshdeskConnector(dataclasses.replace(config, **changes), clock=lambda: NOW)


def body(request: httpx.Request) -> dict:
    return json.loads(request.content.decode("utf-8"))


TRIAGE_CF = {
    "cf_issue_types": "product_quality, safety_hazard",
    "cf_sentiment": "negative",
    "cf_urgency": "critical",
    "cf_model_version": "feedback-clf-2.3.1",
    "cf_first_response_due": "2025-03-14T10:30:00+08:00",
    "cf_resolution_due": "2025-03-15T09:30:00+08:00",
}


def test_create_triage_ticket_sends_exact_requests():
    event = triage_event()
    script = Script(("GET", "/api/v2/tickets", 200, []),
                    ("GET", "/api/v2/search/tickets", 200, NO_RESULTS),
                    ("POST", "/api/v2/tickets", 201, load("freshdesk_ticket_created.json")))
    result = connector(script).push_triage(event)

    assert result == DeliveryResult("1", "created")
    recent, search, create = script.requests
    assert dict(recent.url.params) == LIST_PARAMS
    assert dict(search.url.params) == {"query": f"\"tag:'{TRIAGE_TAG}'\""}
    assert b"query=%22tag%3A%27fbk-" in search.url.query  # double-quoted and URL-encoded, as documented
    assert all(r.headers["Authorization"] == AUTH for r in script.requests)
    assert create.headers["Content-Type"] == "application/json"
    assert body(create) == {
        "subject": fmt.triage_summary(event),
        "description": to_html(fmt.triage_comment(event)),
        "email": "feedback-bot@acme.example",
        "priority": 4,
        "status": 2,
        "source": 2,
        "tags": ["feedback-ml", "product_quality", "safety_hazard", TRIAGE_TAG],
        "custom_fields": TRIAGE_CF,
    }


def test_requester_id_config_is_used_for_create_and_lookup():
    script = Script(("GET", "/api/v2/tickets", 200, []),
                    ("GET", "/api/v2/search/tickets", 200, NO_RESULTS),
                    ("POST", "/api/v2/tickets", 201, load("freshdesk_ticket_created.json")))
    connector(script, requester_email=None, requester_id=129, custom_fields={}).push_triage(triage_event())
    assert script.requests[0].url.params["requester_id"] == "129"
    assert "email" not in script.requests[0].url.params
    created = body(script.requests[2])
    assert created["requester_id"] == 129 and "email" not in created and "custom_fields" not in created


def test_repush_found_in_recent_list_does_not_create():
    recent = [dict(load("freshdesk_ticket_created.json"), tags=["feedback-ml", TRIAGE_TAG])]
    script = Script(("GET", "/api/v2/tickets", 200, recent))
    assert connector(script).push_triage(triage_event()) == DeliveryResult("1", "noop")
    assert len(script.requests) == 1


def test_repush_found_only_by_search_does_not_create():
    found = {"results": [dict(load("freshdesk_ticket_created.json"), tags=[TRIAGE_TAG])], "total": 1}
    script = Script(("GET", "/api/v2/tickets", 200, [load("freshdesk_ticket.json")]),
                    ("GET", "/api/v2/search/tickets", 200, found))
    assert connector(script).push_triage(triage_event()) == DeliveryResult("1", "noop")


def test_triage_for_existing_ticket_merges_tags_and_adds_private_note():
    event = triage_event(external_ticket_id="20")
    script = Script(("GET", "/api/v2/tickets/20", 200, load("freshdesk_ticket.json")),
                    ("GET", "/api/v2/tickets/20/conversations", 200, load("freshdesk_conversations.json")),
                    ("PUT", "/api/v2/tickets/20", 200, load("freshdesk_ticket.json")),
                    ("POST", "/api/v2/tickets/20/notes", 201, {"id": 4, "private": True, "ticket_id": 20}))
    assert connector(script).push_triage(event) == DeliveryResult("20", "updated")

    _, conversations, put, note = script.requests
    assert dict(conversations.url.params) == {"page": "1", "per_page": "100"}
    assert body(put) == {"priority": 4, "tags": ["vip", "kettle", "feedback-ml", "product_quality", "safety_hazard"],
                         "custom_fields": TRIAGE_CF}
    assert body(note) == {"body": to_html(fmt.triage_comment(event)), "private": True}


@pytest.mark.parametrize("where", ["description", "conversation"])
def test_retried_update_whose_note_exists_is_a_noop(where):
    event = triage_event()
    ticket = load("freshdesk_ticket.json")
    notes = load("freshdesk_conversations.json")
    if where == "description":
        ticket["description_text"] = fmt.triage_comment(event)
        steps = [("GET", "/api/v2/tickets/20", 200, ticket)]
    else:
        notes.append(dict(notes[0], id=9, body=to_html(fmt.triage_comment(event)), body_text=None))
        steps = [("GET", "/api/v2/tickets/20", 200, ticket),
                 ("GET", "/api/v2/tickets/20/conversations", 200, notes)]
    script = Script(*steps)
    assert connector(script).push_triage(event, "20") == DeliveryResult("20", "noop")
    assert not script.steps


def test_create_alert_ticket_in_defects_group():
    event = alert_event()
    script = Script(("GET", "/api/v2/tickets", 200, []),
                    ("GET", "/api/v2/search/tickets", 200, NO_RESULTS),
                    ("POST", "/api/v2/tickets", 201, dict(load("freshdesk_ticket_created.json"), id=77)))
    assert connector(script).push_alert(event) == DeliveryResult("77", "created")
    assert dict(script.requests[1].url.params) == {"query": f"\"tag:'{ALERT_TAG}'\""}
    assert body(script.requests[2]) == {
        "subject": "[P1] 缺陷告警 — 商品 SKU-KETTLE-1702: 冒烟/底座/焦糊味 (42 条, ×12.0)",
        "description": to_html(fmt.alert_comment(event)),
        "email": "feedback-bot@acme.example",
        "priority": 4,
        "status": 2,
        "source": 2,
        "tags": ["feedback-ml", "defect-alert", "product_quality", "safety_hazard", ALERT_TAG],
        "custom_fields": {"cf_issue_types": "product_quality, safety_hazard", "cf_alert_severity": "critical"},
        "type": "Problem",
        "group_id": 3000099,
    }


def test_later_detection_found_by_search_updates_priority_and_adds_note():
    event = alert_event(severity="minor")
    ticket = dict(load("freshdesk_search.json")["results"][0], description_text="缺陷告警 …")
    script = Script(("GET", "/api/v2/tickets", 200, []),
                    ("GET", "/api/v2/search/tickets", 200, load("freshdesk_search.json")),
                    ("GET", "/api/v2/tickets/77", 200, ticket),
                    ("GET", "/api/v2/tickets/77/conversations", 200, []),
                    ("PUT", "/api/v2/tickets/77", 200, ticket),
                    ("POST", "/api/v2/tickets/77/notes", 201, {"id": 5, "private": True, "ticket_id": 77}))
    assert connector(script).push_alert(event) == DeliveryResult("77", "updated")
    assert body(script.requests[4]) == {
        "priority": 2,
        "tags": ["feedback-ml", "defect-alert", ALERT_TAG, "product_quality", "safety_hazard"],
        "custom_fields": {"cf_issue_types": "product_quality, safety_hazard", "cf_alert_severity": "minor"},
    }
    assert body(script.requests[5]) == {"body": to_html(fmt.alert_comment(event)), "private": True}


def test_alert_with_external_id_skips_lookup():
    script = Script(("GET", "/api/v2/tickets/77", 200, load("freshdesk_ticket.json")),
                    ("GET", "/api/v2/tickets/77/conversations", 200, []),
                    ("PUT", "/api/v2/tickets/77", 200, load("freshdesk_ticket.json")),
                    ("POST", "/api/v2/tickets/77/notes", 201, {"id": 5}))
    assert connector(script).push_alert(alert_event(), "77").action == "updated"


def test_customer_text_is_html_escaped():
    event = triage_event(text='<script>alert("x")</script> 底座 & 插头')
    html_body = to_html(fmt.triage_comment(event))
    assert "<script>" not in html_body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 底座 &amp; 插头" in html_body


def test_rate_limit_429_carries_retry_after():
    limited = {"message": "You have exceeded the limit of requests per minute"}
    script = Script(("GET", "/api/v2/tickets", 429, limited, {"Retry-After": "41"}))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert (info.value.status, info.value.retryable, info.value.retry_after) == (429, True, 41.0)


@pytest.mark.parametrize(("status", "retryable"), [
    (400, False), (401, False), (403, False), (404, False), (409, False), (422, False), (500, True), (503, True),
])
def test_status_handling_and_retry_decision(status, retryable):
    error = {"description": "Validation failed",
             "errors": [{"field": "cf_sentiment", "message": "It should be one of these values: 'negative'",
                         "code": "invalid_value"}]}
    script = Script(("GET", "/api/v2/tickets", 200, []),
                    ("GET", "/api/v2/search/tickets", 200, NO_RESULTS),
                    ("POST", "/api/v2/tickets", status, error))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert (info.value.status, info.value.retryable, info.value.retry_after) == (status, retryable, None)


@pytest.mark.parametrize("exc", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")])
def test_transport_errors_are_retryable(exc):
    script = Script(("GET", "/api/v2/tickets/20", 0, exc))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_alert(alert_event(), "20")
    assert info.value.retryable and info.value.status is None


def test_secrets_never_reach_error_messages_or_repr():
    echo = {"code": "invalid_credentials", "message": f"You have to be logged in ({API_KEY}, {AUTH[6:]})"}
    script = Script(("GET", "/api/v2/tickets", 401, echo))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert API_KEY not in str(info.value) and AUTH[6:] not in str(info.value)
    assert not info.value.retryable
    assert API_KEY not in repr(connector(Script()).config)


def test_host_outside_allow_list_is_refused():
    with pytest.raises(HostNotAllowed):
        connector(Script(), base_url="https://acme.freshdesk.com.evil.example")


def test_config_needs_exactly_one_requester():
    with pytest.raises(ValueError, match="requester"):
        connector(Script(), requester_email=None)
    with pytest.raises(ValueError, match="requester"):
        connector(Script(), requester_id=5)


def test_implements_the_protocol():
    assert isinstance(connector(Script()), TicketingConnector)
