"""One test per escalation rule of data/taxonomy.yaml, plus the default mapping."""

import pytest

from models.policy import PriorityPolicy
from models.settings import REPO_ROOT
from models.taxonomy import load_taxonomy

TAX = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")
POLICY = PriorityPolicy(TAX)


def test_priority_follows_urgency_when_no_rule_fires():
    for level, prio in TAX.priority_from_urgency.items():
        d = POLICY.decide(level, 0.9, [], "一般般吧")
        assert d.priority == prio and d.urgency == level and not d.fired


def test_safety_hazard_label_raises_to_critical_with_reason():
    d = POLICY.decide("medium", 0.6, ["product_quality", "safety_hazard"], "质量不好")
    assert d.urgency == "critical" and d.priority == "P1" and d.escalate
    assert "safety_hazard" in d.fired
    assert any("安全隐患" in r for r in d.reasons) and any("商品质量" in r for r in d.reasons)


@pytest.mark.parametrize(
    "text, rule, level",
    [
        ("充电宝冒烟了，吓死人", "safety_words", "critical"),
        ("孩子用了脸上起疹子", "safety_words", "critical"),
        ("再不处理我就打12315", "legal_threat", "critical"),
        ("我已经咨询律师了", "legal_threat", "critical"),
        ("等着吧，我要发微博曝光你们", "media_threat", "critical"),
        ("冰箱完全不制冷", "unusable", "high"),
        ("电脑开不了机", "unusable", "high"),
        ("快递丢了也没人管", "lost_parcel", "high"),
        ("我要找你们主管", "escalation_words", "high"),
        ("这是第三次联系你们了", "escalation_words", "high"),
    ],
)
def test_cue_rules_raise_urgency(text, rule, level):
    d = POLICY.decide("low", 0.8, ["product_quality"], text)
    assert rule in d.fired, d.reasons
    assert d.urgency == level and d.priority == TAX.priority_from_urgency[level]
    assert any(r.startswith(next(x["reason"] for x in TAX.rules if x["id"] == rule)) for r in d.reasons)


def test_rules_never_lower_urgency():
    d = POLICY.decide("critical", 0.9, [], "电脑开不了机")
    assert d.urgency == "critical"


def test_anger_raises_one_level_only_with_an_issue_and_not_past_high():
    assert POLICY.decide("low", 0.9, ["logistics"], "快递太慢了！！！").urgency == "medium"
    assert POLICY.decide("medium", 0.9, ["logistics"], "什么破快递，气死了").urgency == "high"
    assert POLICY.decide("high", 0.9, ["logistics"], "气死了！！！").urgency == "high"
    no_issue = POLICY.decide("low", 0.9, [], "这书真垃圾！！！")
    assert no_issue.urgency == "low" and "anger" not in no_issue.fired


def test_cues_work_on_traditional_and_full_width_text():
    d = POLICY.decide("low", 0.9, ["product_quality"], "充電寶冒煙了！！！打１２３１５")
    assert {"safety", "legal_threat"} <= set(d.cues) and d.urgency == "critical"


def test_plain_text_without_cues_has_no_effect():
    d = POLICY.decide("medium", 0.7, ["logistics"], "快递有点慢")
    assert d.urgency == "medium" and d.fired == [] and not d.escalate
