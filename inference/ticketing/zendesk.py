"""Zendesk Support connector (Tickets API v2).

Idempotency: a ticket this connector creates carries ``external_id`` = the event's idempotency key (for
alerts the stable ``alert_id``, so every detection of one alert lands on one ticket). Before creating, the
connector lists ``GET /api/v2/tickets.json?external_id=...``; a hit means an earlier attempt got through.
Notes on existing tickets end with the ``[feedback-event:<key>]`` marker line and are only added when no
comment on the ticket carries it yet (the ticket's description is its first comment, so that counts too).

Updates use ``additional_tags`` rather than ``tags`` because ``tags`` on PUT replaces every tag an agent set.
Custom fields: ``custom_field_ids`` maps the logical names from :mod:`inference.ticketing.formatting`
(``issue_types`` → a multi-select whose option tags are the label names; the SLA due times → text fields,
since Zendesk date fields only take ``YYYY-MM-DD``) to numeric field ids.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from inference.ticketing import formatting as fmt
from inference.ticketing.base import (
    ConnectorError,
    DefectAlertEvent,
    DeliveryResult,
    TriageEvent,
)
from inference.ticketing.http import ClientOwner, HostNotAllowed, check_allowed, make_client, send_json

PRIORITIES = {"P1": "urgent", "P2": "high", "P3": "normal", "P4": "low"}


@dataclass(frozen=True)
class ZendeskConfig:
    base_url: str  # https://acme.zendesk.com
    email: str
    api_token: str = field(repr=False)
    allowed_hosts: tuple[str, ...] = ()
    custom_field_ids: Mapping[str, int] = field(default_factory=dict)  # logical name -> field id
    tags: tuple[str, ...] = ("feedback-ml",)
    ticket_type: str | None = None  # problem | incident | question | task
    group_id: int | None = None
    alert_ticket_type: str | None = "problem"
    alert_group_id: int | None = None  # the defects queue
    timeout: float = 10.0
    max_comment_pages: int = 10
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)


class ZendeskConnector(ClientOwner):
    name = "zendesk"

    def __init__(self, config: ZendeskConfig):
        fmt.check_field_names(config.custom_field_ids, self.name)
        self.config = config
        user = f"{config.email}/token"
        self._secrets = [config.api_token,
                         base64.b64encode(f"{user}:{config.api_token}".encode()).decode()]
        self._client = make_client(config.base_url, config.allowed_hosts, auth=(user, config.api_token),
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
        existing = self._find_by_external_id(event.idempotency_key)
        if existing:
            return DeliveryResult(existing, "noop")
        return self._create(event.idempotency_key, fmt.triage_summary(event), note, event.priority, tags,
                            fields, self.config.ticket_type, self.config.group_id)

    def push_alert(self, event: DefectAlertEvent, external_id: str | None = None) -> DeliveryResult:
        priority = fmt.alert_priority(event)
        fields = self._custom_fields(fmt.alert_field_values(event))
        tags = self._tags(["defect-alert", *event.issue_types])
        note = fmt.alert_comment(event)
        target = external_id or self._find_by_external_id(event.alert_id)
        if target:
            return self._update(target, event.idempotency_key, priority, tags, fields, note)
        return self._create(event.alert_id, fmt.alert_summary(event), note, priority, tags, fields,
                            self.config.alert_ticket_type, self.config.alert_group_id)

    # -- steps ------------------------------------------------------------------------------------------

    def _create(self, external_id: str, subject: str, note: str, priority: str, tags: list[str],
                fields: list[dict], ticket_type: str | None, group_id: int | None) -> DeliveryResult:
        ticket: dict = {
            "subject": subject,
            "comment": {"body": note, "public": False},
            "priority": PRIORITIES[priority],
            "tags": tags,
            "external_id": external_id,
        }
        if fields:
            ticket["custom_fields"] = fields
        if ticket_type:
            ticket["type"] = ticket_type
        if group_id is not None:
            ticket["group_id"] = group_id
        body = self._send("POST", "/api/v2/tickets", {"ticket": ticket})
        return DeliveryResult(str(body["ticket"]["id"]), "created")

    def _update(self, ticket_id: str, key: str, priority: str, tags: list[str], fields: list[dict],
                note: str) -> DeliveryResult:
        if self._has_marker(ticket_id, key):
            return DeliveryResult(ticket_id, "noop")
        ticket: dict = {
            "priority": PRIORITIES[priority],
            "additional_tags": tags,
            "comment": {"body": note, "public": False},
        }
        if fields:
            ticket["custom_fields"] = fields
        self._send("PUT", f"/api/v2/tickets/{ticket_id}", {"ticket": ticket})
        return DeliveryResult(ticket_id, "updated")

    def _find_by_external_id(self, external_id: str) -> str | None:
        body = self._send("GET", "/api/v2/tickets.json", params={"external_id": external_id})
        tickets = body.get("tickets") or []
        return str(min(t["id"] for t in tickets)) if tickets else None  # oldest, should duplicates exist

    def _has_marker(self, ticket_id: str, key: str) -> bool:
        url: str | None = f"/api/v2/tickets/{ticket_id}/comments"
        for _ in range(self.config.max_comment_pages):
            if url is None:
                break
            body = self._send("GET", url)
            for comment in body.get("comments") or []:
                if fmt.contains_marker(comment.get("body"), key) or fmt.contains_marker(
                        comment.get("plain_body"), key):
                    return True
            url = body.get("next_page")
            if url:
                try:
                    check_allowed(url, self.config.allowed_hosts)
                except HostNotAllowed as exc:  # a next_page pointing elsewhere is not followed
                    raise ConnectorError(f"zendesk: {exc}", retryable=False) from None
        return False

    def _custom_fields(self, values: dict[str, object]) -> list[dict]:
        ids = self.config.custom_field_ids
        return [{"id": ids[name], "value": value} for name, value in values.items() if name in ids]

    def _tags(self, extra: list[str]) -> list[str]:
        return list(dict.fromkeys(fmt.as_tag(t) for t in [*self.config.tags, *extra] if t.strip()))

    # -- HTTP -------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, payload: dict | None = None, *, params: dict | None = None) -> dict:
        """One call through the shared JSON sender: ConnectorError with the retry decision, secrets removed."""
        return send_json(self._client, self.name, method, url, payload, params=params, secrets=self._secrets, show_path_only=True)

