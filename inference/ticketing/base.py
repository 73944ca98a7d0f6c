"""The connector contract shared by every ticketing system.

The outbox dispatcher only ever talks to :class:`TicketingConnector`; which system sits behind it is
configuration. Every push carries an idempotency key: a connector must make a retried push with the
same key a no-op (look the key up in the ticketing system before creating), because the dispatcher
may crash after the remote call succeeded and before it recorded the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol, runtime_checkable

Priority = Literal["P1", "P2", "P3", "P4"]


@dataclass(frozen=True)
class TriageEvent:
    """A classified customer text, to become (or update) a ticket in the agents' queue."""

    idempotency_key: str
    item_id: str  # the caller's id of the text (e.g. its ticket id in the caller's system)
    text: str  # already PII-masked
    priority: Priority
    issue_types: list[str]  # labels, e.g. ["product_quality", "safety_hazard"]
    issue_type_names: list[str]  # Chinese display names, same order
    sentiment: str  # negative | neutral | positive
    sentiment_score: float  # [-1, 1]
    urgency: str  # critical | high | medium | low
    model_version: str
    first_response_due: str | None  # ISO 8601
    resolution_due: str | None
    reasons: list[str]
    suggested_actions: list[str]
    escalate_to_human: bool = False
    product_id: str | None = None
    external_ticket_id: str | None = None  # set when the text came from an existing ticket: update it

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DefectAlertEvent:
    """A defect spike detection; the first one creates a ticket, later ones update it."""

    idempotency_key: str  # unique per detection (alert id + window)
    alert_id: str  # stable across detections of the same alert
    product_id: str
    topic_id: str
    keywords: list[str]
    window_start: str  # ISO 8601
    window_end: str
    count: int
    baseline: float
    ratio: float
    severity: Literal["critical", "major", "minor"]
    examples: list[str]  # PII-masked complaint texts
    trend: list[tuple[str, int]] = field(default_factory=list)  # (window start, count), oldest first
    issue_types: list[str] = field(default_factory=list)
    dashboard_url: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeliveryResult:
    external_id: str  # the ticket id in the remote system
    action: Literal["created", "updated", "noop"]  # noop: the key was already delivered


class ConnectorError(Exception):
    """A failed push. ``retryable`` tells the dispatcher whether to back off and retry or dead-letter."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def error_for_status(system: str, status: int, body: str, retry_after: str | None = None) -> ConnectorError:
    """Shared retry decision for HTTP statuses: 408/425/429/5xx retry; other 4xx do not."""
    seconds = None
    if retry_after:
        try:
            seconds = max(0.0, float(retry_after))
        except ValueError:
            seconds = None
    retryable = status in (408, 425, 429) or status >= 500
    return ConnectorError(f"{system} answered {status}: {body[:300]}", retryable=retryable, status=status,
                          retry_after=seconds)


@runtime_checkable
class TicketingConnector(Protocol):
    name: str

    def push_triage(self, event: TriageEvent, external_id: str | None = None) -> DeliveryResult:
        """Create a ticket for the event, or update ``external_id`` (or ``event.external_ticket_id``):
        priority, custom fields, and an internal comment with reasons and suggested actions."""

    def push_alert(self, event: DefectAlertEvent, external_id: str | None = None) -> DeliveryResult:
        """Create the alert's ticket in the defects queue, or, given ``external_id`` (a ticket made by an
        earlier detection of the same alert), add a comment and update its priority."""
