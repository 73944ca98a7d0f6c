"""Text every connector puts into tickets, so agents see the same wording whichever system they use.

Plain text only: each connector renders it into its own markup (Zendesk plain comment, Jira ADF, Freshdesk
HTML, RT text/plain). Labels are Chinese because the agents reading the tickets are; field keys stay English.

Every comment ends with :func:`event_marker`, a line connectors search for in a ticket's existing comments
before adding one, so a push retried after a crash does not post the same note twice.
"""

from __future__ import annotations

import hashlib
import html

from inference.ticketing.base import DefectAlertEvent, Priority, TriageEvent

SUBJECT_TEXT_CHARS = 40
MAX_EXAMPLES = 5
EXAMPLE_CHARS = 200
MAX_TREND_POINTS = 12

SEVERITY_PRIORITY: dict[str, Priority] = {"critical": "P1", "major": "P2", "minor": "P3"}

_SENTIMENT_NAMES = {"negative": "负面", "neutral": "中性", "positive": "正面"}
_URGENCY_NAMES = {"critical": "特急", "high": "高", "medium": "中", "low": "低"}
_SEVERITY_NAMES = {"critical": "严重", "major": "重要", "minor": "一般"}


def event_marker(idempotency_key: str) -> str:
    """The dedupe line for one push; stable, ASCII-framed so it survives every system's markup."""
    return f"[feedback-event:{idempotency_key}]"


def key_tag(idempotency_key: str) -> str:
    """A short tag/label standing for a key, for systems that can search tags but have no external id field
    (Jira labels, Freshdesk tags). 64 bits of SHA-256: collisions are not a practical concern."""
    return "fbk-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:16]


def contains_marker(text: str | None, idempotency_key: str) -> bool:
    """True when a stored comment (plain or HTML-escaped) already carries this push's marker."""
    if not text:
        return False
    marker = event_marker(idempotency_key)
    return marker in text or html.escape(marker) in text


def snippet(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters (plus an ellipsis): subjects must not contain newlines."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def alert_priority(event: DefectAlertEvent) -> Priority:
    """Alerts carry a severity, tickets a priority; every connector maps them the same way."""
    return SEVERITY_PRIORITY.get(event.severity, "P2")


def triage_summary(event: TriageEvent) -> str:
    types = "/".join(event.issue_type_names) or "未分类"
    return f"[{event.priority}] {types} — {snippet(event.text, SUBJECT_TEXT_CHARS)}"


def triage_comment(event: TriageEvent) -> str:
    """The internal note for a triaged text: why the model decided, what to do, and by when."""
    types = ", ".join(f"{name} ({label})" for name, label in zip(event.issue_type_names, event.issue_types,
                                                                   strict=False)) or "未分类"
    sentiment = _SENTIMENT_NAMES.get(event.sentiment, event.sentiment)
    urgency = _URGENCY_NAMES.get(event.urgency, event.urgency)
    lines = [
        "ML 分诊结果 (feedback-ml)",
        f"优先级: {event.priority} | 紧急度: {urgency} ({event.urgency}) | "
        f"情感: {sentiment} ({event.sentiment_score:+.2f})",
        f"问题类型: {types}",
    ]
    if event.escalate_to_human:
        lines.append("需要人工介入: 是")
    ids = [f"来源编号: {event.item_id}"] + ([f"商品: {event.product_id}"] if event.product_id else [])
    lines.append(" | ".join(ids))
    lines += _section("判定原因", event.reasons)
    lines += _section("建议操作", event.suggested_actions)
    lines += _section("SLA", [f"首次响应截止: {event.first_response_due or '未设定'}",
                              f"解决截止: {event.resolution_due or '未设定'}"])
    lines += ["", "原文 (已脱敏):", _defuse(event.text.strip())]
    lines += ["", f"模型版本: {event.model_version}", event_marker(event.idempotency_key)]
    return "\n".join(lines)


def alert_summary(event: DefectAlertEvent) -> str:
    keywords = "/".join(event.keywords[:3]) or event.topic_id
    return (f"[{alert_priority(event)}] 缺陷告警 — 商品 {event.product_id}: {keywords} "
            f"({event.count} 条, ×{event.ratio:.1f})")


def alert_comment(event: DefectAlertEvent) -> str:
    """One detection of a defect spike: the numbers, the trend and a few masked examples."""
    severity = _SEVERITY_NAMES.get(event.severity, event.severity)
    lines = [
        f"缺陷告警 (defect-alert) | 严重度: {severity} ({event.severity}) | 优先级: {alert_priority(event)}",
        f"商品: {event.product_id} | 主题: {event.topic_id} | 告警编号: {event.alert_id}",
        f"时间窗口: {event.window_start} — {event.window_end}",
        f"投诉数: {event.count} (基线 {event.baseline:.1f}, ×{event.ratio:.1f})",
        f"关键词: {', '.join(event.keywords) or '无'}",
    ]
    if event.issue_types:
        lines.append(f"问题类型: {', '.join(event.issue_types)}")
    trend = [f"{start}: {count}" for start, count in list(event.trend)[-MAX_TREND_POINTS:]]
    lines += _section("趋势 (窗口开始: 条数)", trend)
    examples = [_defuse(snippet(text, EXAMPLE_CHARS)) for text in event.examples[:MAX_EXAMPLES]]
    lines += _section("示例 (已脱敏)", examples)
    if event.dashboard_url:
        lines += ["", f"看板: {event.dashboard_url}"]
    lines += ["", event_marker(event.idempotency_key)]
    return "\n".join(lines)


def triage_field_values(event: TriageEvent) -> dict[str, object]:
    """Logical custom-field values; connectors map these names to their own field ids from config."""
    values: dict[str, object] = {
        "issue_types": list(event.issue_types),
        "sentiment": event.sentiment,
        "sentiment_score": round(event.sentiment_score, 4),
        "urgency": event.urgency,
        "model_version": event.model_version,
        "first_response_due": event.first_response_due,
        "resolution_due": event.resolution_due,
        "product_id": event.product_id,
        "escalate_to_human": event.escalate_to_human,
    }
    return {name: value for name, value in values.items() if value is not None}


def alert_field_values(event: DefectAlertEvent) -> dict[str, object]:
    return {
        "issue_types": list(event.issue_types),
        "product_id": event.product_id,
        "alert_severity": event.severity,
        "alert_count": event.count,
        "alert_ratio": round(event.ratio, 2),
    }


TRIAGE_FIELDS = frozenset({"issue_types", "sentiment", "sentiment_score", "urgency", "model_version",
                           "first_response_due", "resolution_due", "product_id", "escalate_to_human"})
ALERT_FIELDS = frozenset({"issue_types", "product_id", "alert_severity", "alert_count", "alert_ratio"})
KNOWN_FIELDS = TRIAGE_FIELDS | ALERT_FIELDS


def check_field_names(names: object, system: str) -> None:
    """Fail at construction on a misspelt logical field name instead of silently never setting it."""
    unknown = sorted(set(names) - KNOWN_FIELDS)  # type: ignore[arg-type]
    if unknown:
        raise ValueError(f"{system}: unknown custom field names {unknown}; known: {sorted(KNOWN_FIELDS)}")


def _defuse(customer_text: str) -> str:
    """Customer-written text must not be able to carry a dedupe marker into our notes."""
    return customer_text.replace("[feedback-event:", "[feedback-event：")


def _section(title: str, items: list[str]) -> list[str]:
    return ["", f"{title}:"] + ([f"- {item}" for item in items] if items else ["- 无"])


def as_tag(value: str) -> str:
    """Tags/labels may not contain whitespace in Zendesk and Jira; lower-case keeps them matchable."""
    return "_".join(value.strip().lower().split())
