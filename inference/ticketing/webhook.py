"""Generic outbound webhook: for ticketing systems we have no connector for, or a customer's own endpoint.

Each push is one signed POST of ``{"type": "triage"|"defect_alert", "idempotency_key": …, "data": …}``.
The receiver cannot be asked "did you get this already?", so deduplication is its job: the event id travels
in ``X-Feedback-Event-Id`` and stays the same on every retry. Authenticity: ``X-Feedback-Signature`` is
``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>`` with the unix-seconds timestamp from
``X-Feedback-Timestamp``; signing the timestamp lets receivers reject replays (:func:`verify_signature`).

The URL may itself carry a token (many inbound-webhook products put one in the path), so it never appears
in error messages. Note that httpx's own INFO log line does include the URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from inference.ticketing.base import (
    ConnectorError,
    DefectAlertEvent,
    DeliveryResult,
    TriageEvent,
    error_for_status,
)
from inference.ticketing.http import ClientOwner, make_client

SIGNATURE_PREFIX = "sha256="


@dataclass(frozen=True)
class WebhookConfig:
    url: str = field(repr=False)
    secret: str = field(repr=False)
    allowed_hosts: tuple[str, ...] = ()
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(secret: str, timestamp: int | str, body: bytes | str, signature: str,
                     tolerance_s: float = 300, now: float | None = None) -> bool:
    """For receivers: True only for a fresh timestamp and a matching signature over the raw body bytes.

    Verify the bytes as received, before parsing JSON (re-serialising changes them). The comparison is
    constant-time so the signature cannot be guessed byte by byte from response timings.
    """
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, ts, raw).encode(), (signature or "").strip().encode())


class WebhookConnector(ClientOwner):
    name = "webhook"

    def __init__(self, config: WebhookConfig, *, clock: Callable[[], float] = time.time):
        if not config.secret:
            raise ValueError("webhook: a signing secret is required")
        self.config = config
        self._clock = clock
        self._client = make_client(config.url, config.allowed_hosts, timeout=config.timeout,
                                   transport=config.transport)

    def push_triage(self, event: TriageEvent, external_id: str | None = None) -> DeliveryResult:
        return self._post("triage", event.idempotency_key, event.to_dict())

    def push_alert(self, event: DefectAlertEvent, external_id: str | None = None) -> DeliveryResult:
        """``external_id`` is not sent: the receiver groups detections by ``data.alert_id`` itself."""
        return self._post("defect_alert", event.idempotency_key, event.to_dict())

    def _post(self, kind: str, key: str, data: dict) -> DeliveryResult:
        body = json.dumps({"type": kind, "idempotency_key": key, "data": data}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "X-Feedback-Event-Id": key,
            "X-Feedback-Timestamp": str(timestamp),
            "X-Feedback-Signature": sign(self.config.secret, timestamp, body),
        }
        try:
            response = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.TransportError as exc:  # str(exc) may hold the URL, so only the type is reported
            raise ConnectorError(f"webhook POST failed: {type(exc).__name__}", retryable=True) from None
        if not response.is_success:
            err = error_for_status(self.name, response.status_code, response.text,
                                   response.headers.get("Retry-After"))
            raise ConnectorError(str(err).replace(self.config.secret, "***"), retryable=err.retryable,
                                 status=err.status, retry_after=err.retry_after)
        return DeliveryResult(_receiver_id(response) or key, "created")


def _receiver_id(response: httpx.Response) -> str | None:
    """The receiver's own id for the event, when it answers JSON with ``id`` (or ``ticket_id``)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        for name in ("id", "ticket_id"):
            if isinstance(body.get(name), str | int) and not isinstance(body.get(name), bool):
                return str(body[name])
    return None
