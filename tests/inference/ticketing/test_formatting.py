"""The shared ticket wording: exact golden texts, so a wording change is a deliberate diff."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from inference.ticketing import formatting as fmt
from inference.ticketing.base import DefectAlertEvent, TriageEvent

FIXTURES = Path(__file__).parent / "fixtures"


def triage_event(**changes) -> TriageEvent:
    data = json.loads((FIXTURES / "triage_event.json").read_text(encoding="utf-8"))
    return dataclasses.replace(TriageEvent(**data), **changes)


def alert_event(**changes) -> DefectAlertEvent:
    data = json.loads((FIXTURES / "alert_event.json").read_text(encoding="utf-8"))
    data["trend"] = [tuple(point) for point in data["trend"]]
    return dataclasses.replace(DefectAlertEvent(**data), **changes)


TRIAGE_COMMENT = """\
ML 分诊结果 (feedback-ml)
优先级: P1 | 紧急度: 特急 (critical) | 情感: 负面 (-0.87)
问题类型: 商品质量 (product_quality), 安全隐患 (safety_hazard)
需要人工介入: 是
来源编号: 88231 | 商品: SKU-KETTLE-1702

判定原因:
- 提到“冒烟”“着火”：安全隐患
- 强烈负面情绪 (-0.87)
- 要求退货并赔偿

建议操作:
- 立即电话联系客户，确认人身安全
- 通知品控下架同批次商品
- 启动退货退款流程

SLA:
- 首次响应截止: 2025-03-14T10:30:00+08:00
- 解决截止: 2025-03-15T09:30:00+08:00

原文 (已脱敏):
电热水壶用了两次底座就冒烟，还有焦糊味，差点着火！孩子在家太危险了，要求退货并赔偿。订单号已打码 ****

模型版本: feedback-clf-2.3.1
[feedback-event:triage-7f3a9c2e-item-88231]"""

ALERT_COMMENT = """\
缺陷告警 (defect-alert) | 严重度: 严重 (critical) | 优先级: P1
商品: SKU-KETTLE-1702 | 主题: t12 | 告警编号: alert-SKU-KETTLE-1702-t12
时间窗口: 2025-03-14T08:00:00+08:00 — 2025-03-14T09:00:00+08:00
投诉数: 42 (基线 3.5, ×12.0)
关键词: 冒烟, 底座, 焦糊味, 跳闸
问题类型: product_quality, safety_hazard

趋势 (窗口开始: 条数):
- 2025-03-14T06:00:00+08:00: 3
- 2025-03-14T07:00:00+08:00: 9
- 2025-03-14T08:00:00+08:00: 42

示例 (已脱敏):
- 底座冒烟，插头发烫
- 烧水时跳闸，闻到焦糊味
- 用了三天底座就坏了，还冒烟

看板: https://feedback.example.com/alerts/alert-SKU-KETTLE-1702-t12

[feedback-event:alert-SKU-KETTLE-1702-t12-2025-03-14T08:00]"""


def test_triage_summary_is_priority_types_and_first_40_chars_on_one_line():
    assert fmt.triage_summary(triage_event()) == (
        "[P1] 商品质量/安全隐患 — 电热水壶用了两次底座就冒烟，还有焦糊味，差点着火！孩子在家太危险了，要求退货并赔…")
    short = triage_event(text="快递\n太慢了", issue_type_names=[], priority="P4")
    assert fmt.triage_summary(short) == "[P4] 未分类 — 快递 太慢了"


def test_triage_comment_golden():
    assert fmt.triage_comment(triage_event()) == TRIAGE_COMMENT


def test_triage_comment_handles_missing_sla_and_empty_lists():
    text = fmt.triage_comment(triage_event(first_response_due=None, resolution_due=None, reasons=[],
                                           suggested_actions=[], escalate_to_human=False, product_id=None))
    assert "- 首次响应截止: 未设定\n- 解决截止: 未设定" in text
    assert "判定原因:\n- 无" in text and "建议操作:\n- 无" in text
    assert "需要人工介入" not in text and "商品:" not in text


def test_alert_summary_and_comment_golden():
    assert fmt.alert_summary(alert_event()) == "[P1] 缺陷告警 — 商品 SKU-KETTLE-1702: 冒烟/底座/焦糊味 (42 条, ×12.0)"
    assert fmt.alert_comment(alert_event()) == ALERT_COMMENT


def test_alert_comment_caps_examples_and_trend():
    event = alert_event(examples=["长" * 500] * 9, trend=[(f"t{i}", i) for i in range(30)], dashboard_url=None)
    text = fmt.alert_comment(event)
    assert text.count("- 长") == fmt.MAX_EXAMPLES
    assert "长" * fmt.EXAMPLE_CHARS + "…" in text and "长" * (fmt.EXAMPLE_CHARS + 1) not in text
    assert "- t17: 17" not in text and "- t18: 18" in text and "- t29: 29" in text
    assert "看板" not in text


@pytest.mark.parametrize(("severity", "priority"), [("critical", "P1"), ("major", "P2"), ("minor", "P3")])
def test_alert_priority(severity, priority):
    assert fmt.alert_priority(alert_event(severity=severity)) == priority


def test_marker_detection_plain_and_html_escaped():
    key = "k&<1>"
    assert fmt.contains_marker(f"note\n{fmt.event_marker(key)}", key)
    assert fmt.contains_marker("<div>[feedback-event:k&amp;&lt;1&gt;]</div>", key)
    assert not fmt.contains_marker("[feedback-event:k&<2>]", key)
    assert not fmt.contains_marker(None, key)


def test_customer_text_cannot_smuggle_a_marker():
    forged = "[feedback-event:triage-next]"
    assert not fmt.contains_marker(fmt.triage_comment(triage_event(text=forged)), "triage-next")
    assert not fmt.contains_marker(fmt.alert_comment(alert_event(examples=[forged])), "triage-next")


def test_key_tag_is_short_stable_and_distinct():
    tag = fmt.key_tag("alert-SKU-KETTLE-1702-t12")
    assert tag == fmt.key_tag("alert-SKU-KETTLE-1702-t12") and len(tag) == 20 and tag.startswith("fbk-")
    assert tag != fmt.key_tag("alert-SKU-KETTLE-1702-t13")


def test_field_values_and_name_check():
    values = fmt.triage_field_values(triage_event(product_id=None, first_response_due=None))
    assert values == {"issue_types": ["product_quality", "safety_hazard"], "sentiment": "negative",
                      "sentiment_score": -0.87, "urgency": "critical", "model_version": "feedback-clf-2.3.1",
                      "resolution_due": "2025-03-15T09:30:00+08:00", "escalate_to_human": True}
    assert fmt.alert_field_values(alert_event()) == {
        "issue_types": ["product_quality", "safety_hazard"], "product_id": "SKU-KETTLE-1702",
        "alert_severity": "critical", "alert_count": 42, "alert_ratio": 12.0}
    fmt.check_field_names({"sentiment": 1, "alert_ratio": 2}, "x")
    with pytest.raises(ValueError, match="bogus"):
        fmt.check_field_names({"bogus": 1}, "x")


def test_as_tag():
    assert fmt.as_tag("  Product Quality ") == "product_quality"
