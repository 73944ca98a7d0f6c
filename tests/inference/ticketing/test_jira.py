"""Jira Cloud / JSM connector against a scripted fake of REST v3: exact requests, ADF bodies, retry decision."""

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
from inference.ticketing.jira import JiraConfig, JiraConnector, JiraField, field_value, jira_datetime, to_adf

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "ATATT3xFfGF0-jira-SECRET-4411"
AUTH = "Basic " + base64.b64encode(f"bot@acme.example:{TOKEN}".encode()).decode()
FIELDS = {
    "issue_types": JiraField("customfield_10050", "labels"),
    "sentiment": JiraField("customfield_10051", "select"),
    "sentiment_score": JiraField("customfield_10052", "number"),
    "urgency": JiraField("customfield_10053", "select"),
    "model_version": JiraField("customfield_10054"),
    "first_response_due": JiraField("customfield_10055", "datetime"),
    "resolution_due": JiraField("customfield_10056", "datetime"),
    "alert_severity": JiraField("customfield_10057", "select"),
}
TRIAGE_LABEL = fmt.key_tag("triage-7f3a9c2e-item-88231")
ALERT_LABEL = fmt.key_tag("alert-SKU-KETTLE-1702-t12")
NO_ISSUES = {"issues": [], "isLast": True}
INTERNAL = [{"key": "sd.public.comment", "value": {"internal": True}}]


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
        self.steps = list(steps)  # (method, path, status, json body | None | Exception, headers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.steps, f"unexpected request {request.method} {request.url}"
        method, path, status, body, *headers = self.steps.pop(0)
        assert (request.method, request.url.path) == (method, path)
        self.requests.append(request)
        if isinstance(body, Exception):
            raise body
        if body is None:
            return httpx.Response(status, headers=headers[0] if headers else None)
        return httpx.Response(status, json=body, headers=headers[0] if headers else None)


def connector(script: Script, **changes) -> JiraConnector:
    config = JiraConfig(base_url="https://acme.atlassian.net", email="bot@acme.example", api_token=TOKEN,
                        project_key="FB", allowed_hosts=("acme.atlassian.net",), alert_project_key="DEF",
                        custom_fields=FIELDS, transport=httpx.MockTransport(script))
    return JiraConnector(dataclasses.replace(config, **changes))


def body(request: httpx.Request) -> dict:
    return json.loads(request.content.decode("utf-8"))


TRIAGE_CF = {
    "customfield_10050": ["product_quality", "safety_hazard"],
    "customfield_10051": {"value": "negative"},
    "customfield_10052": -0.87,
    "customfield_10053": {"value": "critical"},
    "customfield_10054": "feedback-clf-2.3.1",
    "customfield_10055": "2025-03-14T10:30:00.000+0800",
    "customfield_10056": "2025-03-15T09:30:00.000+0800",
}


def test_create_triage_issue_sends_exact_requests():
    event = triage_event()
    script = Script(("POST", "/rest/api/3/search/jql", 200, NO_ISSUES),
                    ("POST", "/rest/api/3/issue", 201, load("jira_issue_created.json")))
    result = connector(script).push_triage(event)

    assert result == DeliveryResult("FB-42", "created")
    search, create = script.requests
    assert search.headers["Authorization"] == AUTH and create.headers["Authorization"] == AUTH
    assert search.headers["Content-Type"] == "application/json"
    assert body(search) == {"jql": f'labels = "{TRIAGE_LABEL}" ORDER BY created ASC',
                            "fields": ["summary", "description"], "maxResults": 1}
    assert body(create) == {"fields": {
        "project": {"key": "FB"},
        "issuetype": {"name": "Task"},
        "summary": fmt.triage_summary(event),
        "description": to_adf(fmt.triage_comment(event)),
        "priority": {"name": "Highest"},
        "labels": ["feedback-ml", "product_quality", "safety_hazard", TRIAGE_LABEL],
        **TRIAGE_CF,
    }}
    assert "电热水壶".encode() in create.content


def test_repushed_triage_key_finds_labelled_issue_and_does_not_create():
    script = Script(("POST", "/rest/api/3/search/jql", 200, load("jira_search_found.json")))
    assert connector(script).push_triage(triage_event()) == DeliveryResult("FB-42", "noop")
    assert len(script.requests) == 1


def test_triage_for_existing_issue_edits_fields_then_adds_internal_comment():
    event = triage_event(external_ticket_id="FB-7", priority="P3")
    script = Script(("GET", "/rest/api/3/issue/FB-7/comment", 200, load("jira_comments.json")),
                    ("PUT", "/rest/api/3/issue/FB-7", 204, None),
                    ("POST", "/rest/api/3/issue/FB-7/comment", 201, load("jira_comment_created.json")))
    result = connector(script).push_triage(event)

    assert result == DeliveryResult("FB-7", "updated")
    comments, edit, comment = script.requests
    assert dict(comments.url.params) == {"startAt": "0", "maxResults": "100", "orderBy": "-created"}
    assert body(edit) == {
        "fields": {"priority": {"name": "Medium"}, **TRIAGE_CF},
        "update": {"labels": [{"add": "feedback-ml"}, {"add": "product_quality"}, {"add": "safety_hazard"}]},
    }
    assert body(comment) == {"body": to_adf(fmt.triage_comment(event)), "properties": INTERNAL}
    assert edit.headers["Authorization"] == AUTH


def test_plain_jira_projects_get_comments_without_the_jsm_property():
    script = Script(("GET", "/rest/api/3/issue/FB-7/comment", 200, load("jira_comments.json")),
                    ("PUT", "/rest/api/3/issue/FB-7", 204, None),
                    ("POST", "/rest/api/3/issue/FB-7/comment", 201, load("jira_comment_created.json")))
    connector(script, internal_comments=False).push_triage(triage_event(), "FB-7")
    assert "properties" not in body(script.requests[2])


def test_retried_update_whose_comment_exists_on_a_later_page_is_a_noop():
    event = triage_event()
    page1 = dict(load("jira_comments.json"), maxResults=1, total=2)
    page2 = {"startAt": 1, "maxResults": 1, "total": 2, "comments": [
        {"id": "10101", "body": to_adf(fmt.triage_comment(event))}]}
    script = Script(("GET", "/rest/api/3/issue/FB-7/comment", 200, page1),
                    ("GET", "/rest/api/3/issue/FB-7/comment", 200, page2))
    assert connector(script).push_triage(event, "FB-7") == DeliveryResult("FB-7", "noop")
    assert script.requests[1].url.params["startAt"] == "1"


def test_create_alert_issue_in_defects_project():
    event = alert_event()
    script = Script(("POST", "/rest/api/3/search/jql", 200, NO_ISSUES),
                    ("POST", "/rest/api/3/issue", 201, load("jira_issue_created.json")))
    assert connector(script).push_alert(event) == DeliveryResult("FB-42", "created")
    assert body(script.requests[0])["jql"] == f'labels = "{ALERT_LABEL}" ORDER BY created ASC'
    assert body(script.requests[1]) == {"fields": {
        "project": {"key": "DEF"},
        "issuetype": {"name": "Bug"},
        "summary": "[P1] 缺陷告警 — 商品 SKU-KETTLE-1702: 冒烟/底座/焦糊味 (42 条, ×12.0)",
        "description": to_adf(fmt.alert_comment(event)),
        "priority": {"name": "Highest"},
        "labels": ["feedback-ml", "defect-alert", "product_quality", "safety_hazard", ALERT_LABEL],
        "customfield_10050": ["product_quality", "safety_hazard"],
        "customfield_10057": {"value": "critical"},
    }}


def test_later_detection_found_by_label_comments_and_raises_priority():
    event = alert_event()
    script = Script(("POST", "/rest/api/3/search/jql", 200, load("jira_search_found.json")),
                    ("GET", "/rest/api/3/issue/FB-42/comment", 200, load("jira_comments.json")),
                    ("PUT", "/rest/api/3/issue/FB-42", 204, None),
                    ("POST", "/rest/api/3/issue/FB-42/comment", 201, load("jira_comment_created.json")))
    assert connector(script).push_alert(event) == DeliveryResult("FB-42", "updated")
    assert body(script.requests[2]) == {
        "fields": {"priority": {"name": "Highest"}, "customfield_10050": ["product_quality", "safety_hazard"],
                   "customfield_10057": {"value": "critical"}},
        "update": {"labels": [{"add": "feedback-ml"}, {"add": "defect-alert"}, {"add": "product_quality"},
                              {"add": "safety_hazard"}]},
    }
    assert body(script.requests[3]) == {"body": to_adf(fmt.alert_comment(event)), "properties": INTERNAL}


def test_retried_first_detection_whose_marker_is_in_the_description_is_a_noop():
    event = alert_event(idempotency_key="alert-SKU-KETTLE-1702-t12-2025-03-14T06:00")  # in the fixture
    script = Script(("POST", "/rest/api/3/search/jql", 200, load("jira_search_found.json")))
    assert connector(script).push_alert(event) == DeliveryResult("FB-42", "noop")


def test_alert_with_external_id_skips_search():
    script = Script(("GET", "/rest/api/3/issue/DEF-3/comment", 200, load("jira_comments.json")),
                    ("PUT", "/rest/api/3/issue/DEF-3", 204, None),
                    ("POST", "/rest/api/3/issue/DEF-3/comment", 201, load("jira_comment_created.json")))
    assert connector(script).push_alert(alert_event(), "DEF-3").action == "updated"


@pytest.mark.parametrize(("status", "headers", "retryable", "retry_after"), [
    (400, {}, False, None),
    (401, {}, False, None),
    (403, {}, False, None),
    (404, {}, False, None),
    (409, {}, False, None),
    (422, {}, False, None),
    (429, {"Retry-After": "17"}, True, 17.0),
    (500, {}, True, None),
    (503, {}, True, None),
])
def test_status_handling_and_retry_decision(status, headers, retryable, retry_after):
    error = {"errorMessages": [], "errors": {"customfield_10051": "Option value 'negative' is not valid"}}
    script = Script(("POST", "/rest/api/3/search/jql", 200, NO_ISSUES),
                    ("POST", "/rest/api/3/issue", status, error, headers))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert (info.value.status, info.value.retryable, info.value.retry_after) == (status, retryable, retry_after)


@pytest.mark.parametrize("exc", [httpx.ConnectError("connection refused"), httpx.ConnectTimeout("timed out"),
                                 httpx.RemoteProtocolError("peer closed connection")])
def test_transport_errors_are_retryable(exc):
    script = Script(("POST", "/rest/api/3/search/jql", 0, exc))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert info.value.retryable and info.value.status is None


def test_secrets_never_reach_error_messages_or_repr():
    echo = {"errorMessages": [f"Basic {AUTH[6:]} rejected for token {TOKEN}"], "errors": {}}
    script = Script(("POST", "/rest/api/3/search/jql", 401, echo))
    with pytest.raises(ConnectorError) as info:
        connector(script).push_triage(triage_event())
    assert TOKEN not in str(info.value) and AUTH[6:] not in str(info.value)
    assert TOKEN not in repr(connector(Script()).config)


def test_host_outside_allow_list_is_refused():
    with pytest.raises(HostNotAllowed):
        connector(Script(), base_url="https://other.atlassian.net")


def test_config_errors_fail_fast():
    with pytest.raises(ValueError, match="project_key"):
        connector(Script(), project_key="")
    with pytest.raises(ValueError, match="urgncy"):
        connector(Script(), custom_fields={"urgncy": JiraField("customfield_1")})


def test_field_value_shapes():
    assert field_value("text", ["a", "b"]) == "a, b"
    assert field_value("select", "high") == {"value": "high"}
    assert field_value("multiselect", ["a", "b"]) == [{"value": "a"}, {"value": "b"}]
    assert field_value("labels", ["Product Quality"]) == ["product_quality"]
    assert field_value("number", 3) == 3.0
    assert jira_datetime("2025-03-14T02:30:00Z") == "2025-03-14T02:30:00.000+0000"
    assert jira_datetime("2025-03-14T10:30:00.250") == "2025-03-14T10:30:00.250+0000"


def test_adf_has_bullet_lists_and_no_empty_text_nodes():
    doc = to_adf("标题\n第二行\n\n原因:\n- 一\n- 二\n-\n尾")
    assert doc["content"] == [
        {"type": "paragraph", "content": [{"type": "text", "text": "标题"}, {"type": "hardBreak"},
                                          {"type": "text", "text": "第二行"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "原因:"}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "一"}]}]},
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "二"}]}]},
        ]},
        {"type": "paragraph", "content": [{"type": "text", "text": "尾"}]},
    ]
    texts = json.dumps(to_adf(fmt.triage_comment(triage_event())), ensure_ascii=False)
    assert '"text": ""' not in texts


def test_implements_the_protocol():
    assert isinstance(connector(Script()), TicketingConnector)
