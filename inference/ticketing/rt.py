"""Request Tracker 5 connector (REST2, ``Authorization: token …``).

Tickets: triage results go to ``triage_queue`` (Support), defect alerts to ``defects_queue`` (Defects). The
ticket custom fields are created by ``deploy/rt/feedback_initialdata.pl``: ``Issue Types`` (multiple),
``Sentiment``, ``Urgency``, ``Model Version``, ``SLA Due`` (the first-response due time, else the resolution
due time; both are in the comment), ``Feedback Event Key`` and ``Defect Alert Id``. Priorities are the
integers of ``%PriorityAsString`` (P1 Urgent 100, P2 High 75, P3 Normal 50, P4 Low 0): RT 5.0.3 stores a
label sent on *create* as literal text, so only integers are sent, and ``InitialPriority`` with them.

Idempotency (the dispatcher may be killed after RT created a ticket and before it recorded the id):

* A created ticket carries ``Feedback Event Key`` = the push's idempotency key (alerts also carry the stable
  ``Defect Alert Id``). Before creating, the connector searches ``CF.{Feedback Event Key} = '<key>'``
  (alerts: ``CF.{Defect Alert Id} = '<alert id>'``). RT writes the ticket and its custom fields in one DB
  transaction, so a ticket that exists always has its key. A triage hit is answered with ``noop``; an alert
  hit is ``noop`` when it was created by this very detection, otherwise the detection is applied to it as an
  update (its dispatcher record of the first detection was lost).
* Internal comments carry the ``[feedback-event:<key>]`` marker in their last line and in their subject.
  Before commenting, the connector asks RT for the ticket's attachments whose Subject contains the marker
  (``POST /ticket/{id}/attachments`` with a JSON filter, confirmed client-side); a hit means the comment, and
  everything the connector does before it, is already there. A triage ticket whose comment is missing (killed
  between create and comment) gets it on the retry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from inference.ticketing import formatting as fmt
from inference.ticketing.base import (
    ConnectorError,
    DefectAlertEvent,
    DeliveryResult,
    TriageEvent,
)
from inference.ticketing.http import ClientOwner, make_client, send_json

PRIORITIES = {"P1": 100, "P2": 75, "P3": 50, "P4": 0}  # %PriorityAsString: Urgent, High, Normal, Low

CF_ISSUE_TYPES = "Issue Types"
CF_SENTIMENT = "Sentiment"
CF_URGENCY = "Urgency"
CF_MODEL_VERSION = "Model Version"
CF_SLA_DUE = "SLA Due"
CF_EVENT_KEY = "Feedback Event Key"
CF_ALERT_ID = "Defect Alert Id"

TRIAGE_COMMENT_SUBJECT = "ML 分诊"
ALERT_COMMENT_SUBJECT = "缺陷告警"

_TICKET_ID = re.compile(r"^(?:RT-?)?(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class RTConfig:
    base_url: str  # http://127.0.0.1:8085/rt (RT's WebBaseURL + WebPath); REST2 lives under /REST/2.0
    token: str = field(repr=False)  # an RT auth token of the API user (feedback-bot)
    triage_queue: str = "Support"
    defects_queue: str = "Defects"
    allowed_hosts: tuple[str, ...] = ()
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _Found:
    ticket_id: str
    fields: dict[str, list[str]]


class RTConnector(ClientOwner):
    name = "rt"

    def __init__(self, config: RTConfig):
        self.config = config
        self._secrets = [config.token]
        self._client = make_client(f"{config.base_url.rstrip('/')}/REST/2.0", config.allowed_hosts,
                                   headers={"Authorization": f"token {config.token}",
                                            "Accept": "application/json"},
                                   timeout=config.timeout, transport=config.transport)

    # -- protocol ---------------------------------------------------------------------------------------

    def push_triage(self, event: TriageEvent, external_id: str | None = None) -> DeliveryResult:
        key = event.idempotency_key
        priority = PRIORITIES[event.priority]
        fields = triage_fields(event)
        comment = fmt.triage_comment(event)
        target = external_id or event.external_ticket_id
        if target:
            return self._update(ticket_id(target), key, priority, fields, TRIAGE_COMMENT_SUBJECT, comment)
        found = self._find(CF_EVENT_KEY, key)
        if found:
            self._comment_once(found.ticket_id, key, TRIAGE_COMMENT_SUBJECT, comment)
            return DeliveryResult(found.ticket_id, "noop")
        created = self._create(self.config.triage_queue, fmt.triage_summary(event), event.text, priority,
                               {**fields, CF_EVENT_KEY: key})
        self._comment(created, key, TRIAGE_COMMENT_SUBJECT, comment)
        return DeliveryResult(created, "created")

    def push_alert(self, event: DefectAlertEvent, external_id: str | None = None) -> DeliveryResult:
        key = event.idempotency_key
        priority = PRIORITIES[fmt.alert_priority(event)]
        fields: dict[str, Any] = {CF_ISSUE_TYPES: list(event.issue_types)} if event.issue_types else {}
        comment = fmt.alert_comment(event)
        if external_id:
            target = ticket_id(external_id)
        else:
            found = self._find(CF_ALERT_ID, event.alert_id)
            if found is None:
                # The detection's text is the ticket's description (it ends with the marker line).
                created = self._create(self.config.defects_queue, fmt.alert_summary(event), comment, priority,
                                       {**fields, CF_ALERT_ID: event.alert_id, CF_EVENT_KEY: key})
                return DeliveryResult(created, "created")
            if key in found.fields.get(CF_EVENT_KEY, []):
                return DeliveryResult(found.ticket_id, "noop")  # this detection created it
            target = found.ticket_id  # a later detection whose first one was never recorded
        return self._update(target, key, priority, fields, ALERT_COMMENT_SUBJECT, comment)

    # -- steps ------------------------------------------------------------------------------------------

    def _create(self, queue: str, subject: str, content: str, priority: int, fields: dict) -> str:
        body = self._send("POST", "/ticket", {
            "Queue": queue,
            "Subject": subject,
            "Content": content,
            "ContentType": "text/plain",
            "Priority": priority,  # integers only on create (a label is stored as text in 5.0.3)
            "InitialPriority": priority,
            "CustomFields": fields,
        })
        if not isinstance(body, dict) or not body.get("id"):
            raise ConnectorError(f"rt POST /ticket: answered without a ticket id: {str(body)[:200]}",
                                 retryable=True)
        return str(body["id"])

    def _update(self, target: str, key: str, priority: int, fields: dict, subject: str,
                comment: str) -> DeliveryResult:
        ticket = self._send("GET", f"/ticket/{target}", params={"fields": "CustomFields"})
        if key in cf_values(ticket).get(CF_EVENT_KEY, []) or self._has_marker(target, key):
            return DeliveryResult(target, "noop")  # created by this push, or its comment is there
        self._send("PUT", f"/ticket/{target}", {"Priority": priority, "CustomFields": fields})
        self._comment(target, key, subject, comment)
        return DeliveryResult(target, "updated")

    def _find(self, cf_name: str, value: str) -> _Found | None:
        """The oldest ticket whose custom field ``cf_name`` is ``value`` (any queue, any status)."""
        body = self._send("GET", "/tickets", params={
            "query": f"CF.{{{cf_name}}} = {ticketsql_quote(value)}",
            "fields": "CustomFields",
            "orderby": "id",
            "order": "ASC",
            "per_page": 10,
        })
        items = (body.get("items") or []) if isinstance(body, dict) else []
        if not items:
            return None
        first = items[0]
        return _Found(str(first["id"]), cf_values(first))

    def _has_marker(self, target: str, key: str) -> bool:
        marker = fmt.event_marker(key)
        body = self._send("POST", f"/ticket/{target}/attachments",
                          [{"field": "Subject", "operator": "LIKE", "value": marker}],
                          params={"fields": "Subject,TransactionId", "per_page": 100})
        items = (body.get("items") or []) if isinstance(body, dict) else []
        # LIKE treats _ and % in the key as wildcards: confirm the exact marker here.
        return any(fmt.contains_marker(item.get("Subject"), key) for item in items)

    def _comment_once(self, target: str, key: str, subject: str, comment: str) -> bool:
        if self._has_marker(target, key):
            return False
        self._comment(target, key, subject, comment)
        return True

    def _comment(self, target: str, key: str, subject: str, comment: str) -> None:
        """An internal comment (not sent to requestors); the marker goes into the subject, where
        ``_has_marker`` looks for it, and stays the last line of the text."""
        marker = fmt.event_marker(key)
        if not fmt.contains_marker(comment, key):
            comment = f"{comment}\n{marker}"
        self._send("POST", f"/ticket/{target}/comment",
                   {"Subject": f"{subject} {marker}", "Content": comment, "ContentType": "text/plain"})

    # -- HTTP -------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, payload: Any = None, *, params: dict | None = None) -> Any:
        """One call through the shared JSON sender: ConnectorError with the retry decision, secrets removed."""
        return send_json(self._client, self.name, method, url, payload, params=params, secrets=self._secrets,
                         content_type="application/json; charset=utf-8")


def ticket_id(external_id: str) -> str:
    """RT ticket ids are numbers; ``RT-123`` (the id the classify scrip sends) is accepted too."""
    match = _TICKET_ID.match(str(external_id).strip())
    if not match:
        raise ConnectorError(f"rt: {external_id!r} is not an RT ticket id", retryable=False)
    return match.group(1)


def ticketsql_quote(value: str) -> str:
    """A TicketSQL string literal: single quotes, with backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cf_values(ticket: Any) -> dict[str, list[str]]:
    """``{"CustomFields": [{"name": .., "values": [..]}]}`` (REST2 ticket or search item) → name → values."""
    out: dict[str, list[str]] = {}
    if isinstance(ticket, dict):
        for cf in ticket.get("CustomFields") or []:
            if isinstance(cf, dict) and cf.get("name"):
                out[cf["name"]] = [str(v) for v in cf.get("values") or []]
    return out


def triage_fields(event: TriageEvent) -> dict[str, Any]:
    """Custom fields for a triage push. Unknown values (no SLA) are left out rather than cleared."""
    fields: dict[str, Any] = {
        CF_ISSUE_TYPES: list(event.issue_types),
        CF_SENTIMENT: event.sentiment,
        CF_URGENCY: event.urgency,
        CF_MODEL_VERSION: event.model_version,
    }
    due = event.first_response_due or event.resolution_due
    if due:
        fields[CF_SLA_DUE] = due
    return fields
