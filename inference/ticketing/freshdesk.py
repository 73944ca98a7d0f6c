"""Freshdesk connector (API v2).

Idempotency: Freshdesk has no settable external id on tickets, so a created ticket carries the tag
``fbk-<16 hex of sha256(key)>`` (key = triage idempotency key, or the stable ``alert_id`` for alerts).
Before creating, the connector looks for that tag twice, because each documented lookup has a gap:

1. ``GET /api/v2/tickets?email=…|requester_id=…&updated_since=<now - recent_window_s>`` (the list API reads
   the database, so it sees a ticket created a second ago; list responses include ``tags``), then
2. the filter API ``GET /api/v2/search/tickets?query="tag:'fbk-…'"`` (covers any age, but Freshdesk documents
   an indexing delay of a few minutes, which is exactly the crash-and-retry window).

Notes end with the ``[feedback-event:<key>]`` marker; before adding one the connector checks the ticket's
description and its conversations. Tag updates merge with the ticket's current tags, since ``tags`` on
PUT replaces the whole list. Custom fields: ``custom_fields`` maps logical names (see
:mod:`inference.ticketing.formatting`) to ``cf_…`` names; list values are sent comma-joined (text fields),
and SLA due times should go to text fields (Freshdesk date fields take ``YYYY-MM-DD`` only).
"""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from inference.ticketing import formatting as fmt
from inference.ticketing.base import (
    DefectAlertEvent,
    DeliveryResult,
    TriageEvent,
)
from inference.ticketing.http import ClientOwner, make_client, send_json

PRIORITIES = {"P1": 4, "P2": 3, "P3": 2, "P4": 1}  # Freshdesk: 4 Urgent, 3 High, 2 Medium, 1 Low
STATUS_OPEN = 2


@dataclass(frozen=True)
class FreshdeskConfig:
    base_url: str  # https://acme.freshdesk.com
    api_key: str = field(repr=False)
    allowed_hosts: tuple[str, ...] = ()
    requester_email: str | None = None  # exactly one of the two: whom tickets are raised "by"
    requester_id: int | None = None
    source: int = 2  # 1 Email, 2 Portal, 3 Phone, 7 Chat, 9 Feedback widget, 10 Outbound email
    ticket_type: str | None = None  # must be one of the account's ticket types
    group_id: int | None = None
    alert_ticket_type: str | None = None
    alert_group_id: int | None = None  # the defects queue
    tags: tuple[str, ...] = ("feedback-ml",)
    custom_fields: Mapping[str, str] = field(default_factory=dict)  # logical name -> cf_...
    recent_window_s: float = 3600.0
    timeout: float = 10.0
    max_note_pages: int = 10
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)


class FreshdeskConnector(ClientOwner):
    name = "freshdesk"

    def __init__(self, config: FreshdeskConfig, *, clock: Callable[[], float] = time.time):
        if (config.requester_email is None) == (config.requester_id is None):
            raise ValueError("freshdesk: set exactly one of requester_email and requester_id")
        fmt.check_field_names(config.custom_fields, self.name)
        self.config = config
        self._clock = clock
        self._secrets = [config.api_key, base64.b64encode(f"{config.api_key}:X".encode()).decode()]
        self._client = make_client(config.base_url, config.allowed_hosts, auth=(config.api_key, "X"),
                                   headers={"Accept": "application/json"}, timeout=config.timeout,
                                   transport=config.transport)

    # -- protocol ---------------------------------------------------------------------------------------

    def push_triage(self, event: TriageEvent, external_id: str | None = None) -> DeliveryResult:
        target = external_id or event.external_ticket_id
        fields = self._custom_fields(fmt.triage_field_values(event))
        tags = self._tags(event.issue_types)
        note = fmt.triage_comment(event)
        if target:
            return self._update(target, event.idempotency_key, event.priority, tags, fields, note)
        tag = fmt.key_tag(event.idempotency_key)
        existing = self._find_by_tag(tag)
        if existing:
            return DeliveryResult(existing, "noop")
        return self._create(fmt.triage_summary(event), note, event.priority, [*tags, tag], fields,
                            self.config.ticket_type, self.config.group_id)

    def push_alert(self, event: DefectAlertEvent, external_id: str | None = None) -> DeliveryResult:
        priority = fmt.alert_priority(event)
        fields = self._custom_fields(fmt.alert_field_values(event))
        tags = self._tags(["defect-alert", *event.issue_types])
        note = fmt.alert_comment(event)
        tag = fmt.key_tag(event.alert_id)
        target = external_id or self._find_by_tag(tag)
        if target:
            return self._update(target, event.idempotency_key, priority, tags, fields, note)
        return self._create(fmt.alert_summary(event), note, priority, [*tags, tag], fields,
                            self.config.alert_ticket_type, self.config.alert_group_id)

    # -- steps ------------------------------------------------------------------------------------------

    def _create(self, subject: str, note: str, priority: str, tags: list[str], fields: dict,
                ticket_type: str | None, group_id: int | None) -> DeliveryResult:
        ticket: dict = {"subject": subject, "description": to_html(note)}
        if self.config.requester_email is not None:
            ticket["email"] = self.config.requester_email
        else:
            ticket["requester_id"] = self.config.requester_id
        ticket.update({"priority": PRIORITIES[priority], "status": STATUS_OPEN, "source": self.config.source,
                       "tags": list(dict.fromkeys(tags))})
        if fields:
            ticket["custom_fields"] = fields
        if ticket_type:
            ticket["type"] = ticket_type
        if group_id is not None:
            ticket["group_id"] = group_id
        body = self._send("POST", "/api/v2/tickets", ticket)
        return DeliveryResult(str(body["id"]), "created")

    def _update(self, ticket_id: str, key: str, priority: str, tags: list[str], fields: dict,
                note: str) -> DeliveryResult:
        ticket = self._send("GET", f"/api/v2/tickets/{ticket_id}")
        if fmt.contains_marker(ticket.get("description_text"), key) or fmt.contains_marker(
                ticket.get("description"), key) or self._notes_have_marker(ticket_id, key):
            return DeliveryResult(ticket_id, "noop")
        changes: dict = {"priority": PRIORITIES[priority],
                         "tags": list(dict.fromkeys([*(ticket.get("tags") or []), *tags]))}
        if fields:
            changes["custom_fields"] = fields
        self._send("PUT", f"/api/v2/tickets/{ticket_id}", changes)
        self._send("POST", f"/api/v2/tickets/{ticket_id}/notes", {"body": to_html(note), "private": True})
        return DeliveryResult(ticket_id, "updated")

    def _find_by_tag(self, tag: str) -> str | None:
        since = datetime.fromtimestamp(self._clock() - self.config.recent_window_s, tz=UTC)
        params: dict = {"updated_since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "order_by": "created_at",
                        "order_type": "desc", "per_page": 100}
        if self.config.requester_email is not None:
            params["email"] = self.config.requester_email
        else:
            params["requester_id"] = self.config.requester_id
        recent = self._send("GET", "/api/v2/tickets", params=params)
        hits = [t["id"] for t in recent if tag in (t.get("tags") or [])] if isinstance(recent, list) else []
        if not hits:
            found = self._send("GET", "/api/v2/search/tickets", params={"query": f"\"tag:'{tag}'\""})
            hits = [t["id"] for t in found.get("results") or []]
        return str(min(hits)) if hits else None

    def _notes_have_marker(self, ticket_id: str, key: str) -> bool:
        for page in range(1, self.config.max_note_pages + 1):
            notes = self._send("GET", f"/api/v2/tickets/{ticket_id}/conversations",
                               params={"page": page, "per_page": 100})
            if any(fmt.contains_marker(n.get("body_text"), key) or fmt.contains_marker(n.get("body"), key)
                   for n in notes):
                return True
            if len(notes) < 100:
                break
        return False

    def _custom_fields(self, values: dict[str, object]) -> dict:
        out = {}
        for name, cf in self.config.custom_fields.items():
            if name in values:
                value = values[name]
                out[cf] = ", ".join(map(str, value)) if isinstance(value, list) else value
        return out

    def _tags(self, extra: list[str]) -> list[str]:
        return list(dict.fromkeys(t.strip() for t in [*self.config.tags, *extra] if t.strip()))

    # -- HTTP -------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, payload: dict | None = None, *, params: dict | None = None):
        """One call through the shared JSON sender: ConnectorError with the retry decision, secrets removed."""
        return send_json(self._client, self.name, method, url, payload, params=params, secrets=self._secrets)


def to_html(text: str) -> str:
    """Freshdesk descriptions and notes are HTML: escape the (customer-written) text, keep line breaks."""
    return "<div>" + "<br>".join(html.escape(line) for line in text.split("\n")) + "</div>"
