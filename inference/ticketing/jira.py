"""Jira Cloud / Jira Service Management connector (platform REST API v3, Atlassian Document Format).

Idempotency: Jira has no external-id field, so a created issue carries the label ``fbk-<16 hex of
sha256(key)>`` (key = the triage idempotency key, or the stable ``alert_id`` for alerts) and the connector
searches ``labels = "fbk-…"`` with ``POST /rest/api/3/search/jql`` before creating. That search is
eventually consistent: an issue created a few seconds earlier may not be found yet, so a retry inside that
window can still duplicate (the dispatcher's back-off makes it unlikely; Jira offers no create-if-absent).
Comments end with the ``[feedback-event:<key>]`` marker and are only added when no comment (nor the
description of an issue found by the search) carries it yet.

Internal notes: JSM hides a comment from customers when it carries the entity property
``sd.public.comment = {"internal": true}``; ``internal_comments=False`` leaves it out for plain Jira
Software projects. Label updates use the ``update`` verb (``add``) so agents' own labels survive.
Custom fields: ``custom_fields`` maps logical names (see :mod:`inference.ticketing.formatting`) to a
:class:`JiraField`, whose ``kind`` decides the value shape Jira expects for that field type.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Literal

import httpx

from inference.ticketing import formatting as fmt
from inference.ticketing.base import (
    DefectAlertEvent,
    DeliveryResult,
    TriageEvent,
)
from inference.ticketing.http import ClientOwner, make_client, send_json

DEFAULT_PRIORITY_NAMES = {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
FieldKind = Literal["text", "select", "multiselect", "labels", "number", "datetime"]


@dataclass(frozen=True)
class JiraField:
    id: str  # customfield_10050
    kind: FieldKind = "text"


@dataclass(frozen=True)
class JiraConfig:
    base_url: str  # https://acme.atlassian.net
    email: str
    api_token: str = field(repr=False)
    project_key: str = ""
    allowed_hosts: tuple[str, ...] = ()
    issue_type: str = "Task"
    alert_project_key: str | None = None  # the defects queue; defaults to project_key
    alert_issue_type: str = "Bug"
    priority_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_NAMES))
    labels: tuple[str, ...] = ("feedback-ml",)
    custom_fields: Mapping[str, JiraField] = field(default_factory=dict)
    internal_comments: bool = True
    timeout: float = 10.0
    max_comment_pages: int = 10
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)


class JiraConnector(ClientOwner):
    name = "jira"

    def __init__(self, config: JiraConfig):
        if not config.project_key:
            raise ValueError("jira: project_key is required")
        fmt.check_field_names(config.custom_fields, self.name)
        self.config = config
        self._secrets = [config.api_token,
                         base64.b64encode(f"{config.email}:{config.api_token}".encode()).decode()]
        self._client = make_client(config.base_url, config.allowed_hosts, auth=(config.email, config.api_token),
                                   headers={"Accept": "application/json"}, timeout=config.timeout,
                                   transport=config.transport)

    # -- protocol ---------------------------------------------------------------------------------------

    def push_triage(self, event: TriageEvent, external_id: str | None = None) -> DeliveryResult:
        target = external_id or event.external_ticket_id
        fields = self._custom_fields(fmt.triage_field_values(event))
        labels = self._labels(event.issue_types)
        note = fmt.triage_comment(event)
        if target:
            return self._update(target, event.idempotency_key, event.priority, labels, fields, note)
        found = self._search(fmt.key_tag(event.idempotency_key))
        if found:
            return DeliveryResult(found[0], "noop")
        return self._create(self.config.project_key, self.config.issue_type, fmt.triage_summary(event), note,
                            event.priority, [*labels, fmt.key_tag(event.idempotency_key)], fields)

    def push_alert(self, event: DefectAlertEvent, external_id: str | None = None) -> DeliveryResult:
        priority = fmt.alert_priority(event)
        fields = self._custom_fields(fmt.alert_field_values(event))
        labels = self._labels(["defect-alert", *event.issue_types])
        note = fmt.alert_comment(event)
        if not external_id:
            found = self._search(fmt.key_tag(event.alert_id))
            if found and fmt.contains_marker(json.dumps(found[1], ensure_ascii=False), event.idempotency_key):
                return DeliveryResult(found[0], "noop")  # this very detection created the issue
            external_id = found[0] if found else None
        if external_id:
            return self._update(external_id, event.idempotency_key, priority, labels, fields, note)
        return self._create(self.config.alert_project_key or self.config.project_key,
                            self.config.alert_issue_type, fmt.alert_summary(event), note, priority,
                            [*labels, fmt.key_tag(event.alert_id)], fields)

    # -- steps ------------------------------------------------------------------------------------------

    def _create(self, project: str, issue_type: str, summary: str, note: str, priority: str,
                labels: list[str], fields: dict) -> DeliveryResult:
        payload = {"fields": {
            "project": {"key": project},
            "issuetype": {"name": issue_type},
            "summary": summary,
            "description": to_adf(note),
            "priority": {"name": self.config.priority_names[priority]},
            "labels": list(dict.fromkeys(labels)),
            **fields,
        }}
        body = self._send("POST", "/rest/api/3/issue", payload)
        return DeliveryResult(str(body.get("key") or body["id"]), "created")

    def _update(self, key: str, event_key: str, priority: str, labels: list[str], fields: dict,
                note: str) -> DeliveryResult:
        if self._has_marker(key, event_key):
            return DeliveryResult(key, "noop")
        payload = {"fields": {"priority": {"name": self.config.priority_names[priority]}, **fields},
                   "update": {"labels": [{"add": label} for label in labels]}}
        self._send("PUT", f"/rest/api/3/issue/{key}", payload)  # 204, idempotent
        comment: dict = {"body": to_adf(note)}
        if self.config.internal_comments:
            comment["properties"] = [{"key": "sd.public.comment", "value": {"internal": True}}]
        self._send("POST", f"/rest/api/3/issue/{key}/comment", comment)
        return DeliveryResult(key, "updated")

    def _search(self, label: str) -> tuple[str, object] | None:
        """(issue key, description ADF) of the oldest issue with the label, or None."""
        body = self._send("POST", "/rest/api/3/search/jql", {
            "jql": f'labels = "{label}" ORDER BY created ASC',
            "fields": ["summary", "description"],
            "maxResults": 1,
        })
        issues = body.get("issues") or []
        if not issues:
            return None
        return str(issues[0].get("key") or issues[0]["id"]), (issues[0].get("fields") or {}).get("description")

    def _has_marker(self, key: str, event_key: str) -> bool:
        start = 0
        for _ in range(self.config.max_comment_pages):
            body = self._send("GET", f"/rest/api/3/issue/{key}/comment",
                              params={"startAt": start, "maxResults": 100, "orderBy": "-created"})
            comments = body.get("comments") or []
            if any(fmt.contains_marker(json.dumps(c.get("body"), ensure_ascii=False), event_key)
                   for c in comments):
                return True
            start += len(comments)
            if not comments or start >= int(body.get("total", 0)):
                break
        return False

    def _custom_fields(self, values: dict[str, object]) -> dict:
        return {spec.id: field_value(spec.kind, values[name])
                for name, spec in self.config.custom_fields.items() if name in values}

    def _labels(self, extra: list[str]) -> list[str]:
        return list(dict.fromkeys(fmt.as_tag(t) for t in [*self.config.labels, *extra] if t.strip()))

    # -- HTTP -------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, payload: dict | None = None, *, params: dict | None = None) -> dict:
        """One call through the shared JSON sender: ConnectorError with the retry decision, secrets removed."""
        return send_json(self._client, self.name, method, url, payload, params=params, secrets=self._secrets)


def field_value(kind: FieldKind, value: object) -> object:
    """The JSON shape Jira wants for a custom field of this type."""
    items = value if isinstance(value, list) else [value]
    if kind == "select":
        return {"value": _text(value)}
    if kind == "multiselect":
        return [{"value": _text(v)} for v in items]
    if kind == "labels":
        return [fmt.as_tag(_text(v)) for v in items]
    if kind == "number":
        return float(value)  # type: ignore[arg-type]
    if kind == "datetime":
        return jira_datetime(str(value))
    return _text(value)


def jira_datetime(iso: str) -> str:
    """ISO 8601 → Jira's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (naive times are taken as UTC)."""
    dt = datetime.fromisoformat(iso)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}{dt:%z}"


def _text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_adf(text: str) -> dict:
    """Plain text → an ADF document: blank lines split blocks, runs of ``- `` lines become bullet lists,
    other lines in a block are joined with hard breaks. ADF rejects empty text nodes, so none are made."""
    content: list[dict] = []
    for block in text.split("\n\n"):
        lines = [line.rstrip() for line in block.split("\n") if line.strip() not in ("", "-")]
        for is_bullet, run in groupby(lines, key=lambda line: line.startswith("- ")):
            content.append(_adf_block(is_bullet, [line[2:] if is_bullet else line for line in run]))
    return {"type": "doc", "version": 1, "content": content}


def _adf_block(is_bullet: bool, lines: list[str]) -> dict:
    if is_bullet:
        return {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": line}]}]}
            for line in lines]}
    inline: list[dict] = []
    for i, line in enumerate(lines):
        if i:
            inline.append({"type": "hardBreak"})
        inline.append({"type": "text", "text": line})
    return {"type": "paragraph", "content": inline}
