"""Outbound webhook: exact signed request, receiver ids, retry decision, and the receivers' verify helper."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from inference.ticketing.base import (
    ConnectorError,
    DefectAlertEvent,
    DeliveryResult,
    TicketingConnector,
    TriageEvent,
)
from inference.ticketing.http import HostNotAllowed
from inference.ticketing.webhook import WebhookConfig, WebhookConnector, sign, verify_signature

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "whsec-SECRET-5a1b2c3d"
URL = "https://hooks.acme.example/feedback/in?route=qa"
NOW = 1741917600


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def triage_event(**changes) -> TriageEvent:
    return dataclasses.replace(TriageEvent(**load("triage_event.json")), **changes)


def alert_event() -> DefectAlertEvent:
    data = load("alert_event.json")
    data["trend"] = [tuple(point) for point in data["trend"]]
    return DefectAlertEvent(**data)


class Receiver:
    def __init__(self, status: int = 200, answer=None, headers=None, exc: Exception | None = None):
        self.status, self.answer, self.headers, self.exc = status, answer, headers, exc
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.exc:
            raise self.exc
        if self.answer is None:
            return httpx.Response(self.status, headers=self.headers)
        return httpx.Response(self.status, json=self.answer, headers=self.headers)


def connector(receiver: Receiver, **changes) -> WebhookConnector:
    config = WebhookConfig(url=URL, secret=SECRET, allowed_hosts=("hooks.acme.example",),
                           transport=httpx.MockTransport(receiver))
    return WebhookConnector(dataclasses.replace(config, **changes), clock=lambda: NOW + 0.7)


def test_triage_is_posted_signed_with_exact_body_and_headers():
    event = triage_event()
    receiver = Receiver(202)
    result = connector(receiver).push_triage(event)

    assert result == DeliveryResult("triage-7f3a9c2e-item-88231", "created")
    (request,) = receiver.requests
    assert (request.method, str(request.url)) == ("POST", URL)
    raw = request.content
    assert json.loads(raw) == {"type": "triage", "idempotency_key": "triage-7f3a9c2e-item-88231",
                               "data": event.to_dict()}
    assert "电热水壶".encode() in raw
    expected = "sha256=" + hmac.new(SECRET.encode(), f"{NOW}.".encode() + raw, hashlib.sha256).hexdigest()
    assert request.headers["X-Feedback-Event-Id"] == "triage-7f3a9c2e-item-88231"
    assert request.headers["X-Feedback-Timestamp"] == str(NOW)
    assert request.headers["X-Feedback-Signature"] == expected
    assert request.headers["Content-Type"] == "application/json"
    assert "authorization" not in request.headers


def test_alert_body_and_receiver_returned_id():
    event = alert_event()
    receiver = Receiver(201, {"id": "INC-9001", "status": "queued"})
    assert connector(receiver).push_alert(event, "ignored") == DeliveryResult("INC-9001", "created")
    sent = json.loads(receiver.requests[0].content)
    assert sent["type"] == "defect_alert"
    assert sent["idempotency_key"] == "alert-SKU-KETTLE-1702-t12-2025-03-14T08:00"
    assert sent["data"]["trend"] == [["2025-03-14T06:00:00+08:00", 3], ["2025-03-14T07:00:00+08:00", 9],
                                     ["2025-03-14T08:00:00+08:00", 42]]


@pytest.mark.parametrize(("answer", "expected"), [
    ({"ticket_id": 42}, "42"),
    ({"id": True}, "triage-7f3a9c2e-item-88231"),
    (["not", "an", "object"], "triage-7f3a9c2e-item-88231"),
])
def test_external_id_falls_back_to_the_event_id(answer, expected):
    assert connector(Receiver(200, answer)).push_triage(triage_event()).external_id == expected


def test_signature_round_trip_and_rejections():
    receiver = Receiver(200)
    connector(receiver).push_triage(triage_event())
    request = receiver.requests[0]
    ts, sig, raw = request.headers["X-Feedback-Timestamp"], request.headers["X-Feedback-Signature"], request.content

    assert verify_signature(SECRET, ts, raw, sig, now=NOW + 10)
    assert verify_signature(SECRET, int(ts), raw.decode("utf-8"), sig, now=NOW + 10)  # str body, int timestamp
    tampered = raw.replace("电热水壶".encode(), "电饭煲".encode())
    assert not verify_signature(SECRET, ts, tampered, sig, now=NOW + 10)
    assert not verify_signature("other-secret", ts, raw, sig, now=NOW + 10)
    assert not verify_signature(SECRET, str(NOW + 1), raw, sig, now=NOW + 10)  # timestamp not the signed one
    assert not verify_signature(SECRET, ts, raw, sig, now=NOW + 301)  # stale
    assert not verify_signature(SECRET, ts, raw, sig, now=NOW - 301)  # from the future
    assert verify_signature(SECRET, ts, raw, sig, tolerance_s=600, now=NOW + 301)
    assert not verify_signature(SECRET, "yesterday", raw, sig, now=NOW)
    assert not verify_signature(SECRET, ts, raw, "", now=NOW)
    assert not verify_signature(SECRET, ts, raw, sig.removeprefix("sha256="), now=NOW)


def test_sign_matches_documented_formula():
    body = '{"a":"售后"}'.encode()
    expected = hmac.new(b"k", b"100." + body, hashlib.sha256).hexdigest()
    assert sign("k", 100, body) == f"sha256={expected}"


@pytest.mark.parametrize(("status", "headers", "retryable", "retry_after"), [
    (401, {}, False, None),
    (404, {}, False, None),
    (409, {}, False, None),
    (422, {}, False, None),
    (429, {"Retry-After": "5"}, True, 5.0),
    (500, {}, True, None),
    (503, {}, True, None),
    (302, {"Location": "https://elsewhere.example/"}, False, None),  # redirects are not followed
])
def test_status_handling_and_retry_decision(status, headers, retryable, retry_after):
    with pytest.raises(ConnectorError) as info:
        connector(Receiver(status, {"error": "nope"}, headers)).push_triage(triage_event())
    assert (info.value.status, info.value.retryable, info.value.retry_after) == (status, retryable, retry_after)


def test_transport_error_is_retryable_and_hides_url_and_secret():
    receiver = Receiver(exc=httpx.ConnectError(f"cannot reach {URL} with {SECRET}"))
    with pytest.raises(ConnectorError) as info:
        connector(receiver).push_triage(triage_event())
    assert info.value.retryable and info.value.status is None
    assert SECRET not in str(info.value) and "hooks.acme.example" not in str(info.value)


def test_secret_echoed_by_receiver_is_scrubbed_and_not_in_repr():
    with pytest.raises(ConnectorError) as info:
        connector(Receiver(401, {"error": f"bad signature, expected secret {SECRET}"})).push_triage(triage_event())
    assert SECRET not in str(info.value)
    assert SECRET not in repr(connector(Receiver()).config)


def test_host_outside_allow_list_is_refused():
    with pytest.raises(HostNotAllowed):
        connector(Receiver(), url="https://attacker.example/hook")


def test_secret_is_required():
    with pytest.raises(ValueError):
        connector(Receiver(), secret="")


def test_implements_the_protocol():
    assert isinstance(connector(Receiver()), TicketingConnector)
