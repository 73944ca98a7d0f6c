"""The evaluation report's figures: the urgency operating point beside the heads' metrics."""

import pytest

from models.settings import REPO_ROOT
from models.taxonomy import load_taxonomy
from training.dataset import Example
from training.evaluate import operating_point, scored_metrics, unwarranted_labels


def _example(n, text, urgency, issue_types=(), sentiment="neutral"):
    return Example(id=f"x:{n}", text=text, source="real", issue_types=issue_types, urgency=urgency,
                   sentiment=sentiment, split="test")


def test_operating_point_counts_p1_tickets_and_short_false_p1s():
    levels = ["critical", "high", "medium", "low"]
    examples = [
        _example(1, "杯子漏水", "medium"),  # short, medium
        _example(2, "有点小", "low"),  # short, low
        _example(3, "热水器漏电，孩子被电了一下，太危险了，我要投诉到12315", "critical"),  # long, critical
        _example(4, "快递三天才到，包装也破了，里面的东西倒是没坏，客服说会补偿", "medium"),  # long, medium
        _example(5, "着火了", "critical"),  # short but critical: not a false P1
    ]
    pred = {"urgency": ["critical", "low", "critical", "critical", "critical"]}
    out = operating_point(examples, pred, levels, "x")
    assert out["x.urgency.share_critical"] == pytest.approx(4 / 5)
    assert out["x.urgency.share_high_or_above"] == pytest.approx(4 / 5)
    assert out["x.urgency.n_short_medium_or_low"] == 2
    assert out["x.urgency.short_false_critical"] == pytest.approx(1 / 2)
    assert operating_point([], {"urgency": []}, levels, "x") == {}


def test_scored_metrics_holds_the_heads_figures_and_the_operating_point():
    """`feedback train` logs, the gate compares and `feedback evaluate` prints this one dict, so a champion's
    figures and a candidate's have the same keys."""
    tax = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")
    examples = [_example(1, "手机屏幕碎了，要退货", "high", ("product_quality", "return_refund"), "negative"),
                _example(2, "很好用，喜欢", "low", (), "positive")]
    pred = {"issue_types": [["product_quality"], []], "sentiment": ["negative", "positive"], "urgency": ["critical", "low"]}
    out = scored_metrics(examples, pred, tax, "t")
    assert out["t.sentiment.accuracy"] == 1.0
    assert out["t.urgency.share_critical"] == pytest.approx(1 / 2)
    assert out["t.urgency.recall_high_or_above"] == 1.0
    assert 0 < out["t.issue.micro_f1"] < 1


def test_unwarranted_labels_count_labels_given_to_texts_whose_gold_lacks_them():
    """Threats without a hazard: gold has no safety_hazard, so its precision is 0 and recall undefined
    whatever the model does; the false share is what moves."""
    ids = ["product_quality", "safety_hazard", "return_refund"]
    examples = [_example(1, "再不退款就去12315投诉", "critical", ("return_refund",), "negative"),
                _example(2, "不退款我就找律师", "critical", ("return_refund",), "negative"),
                _example(3, "充电器冒烟了，再不处理就投诉", "critical", ("safety_hazard",), "negative"),
                _example(4, "我要去微博曝光", "critical", (), "negative")]
    pred = {"issue_types": [["return_refund", "safety_hazard"], ["return_refund"], ["safety_hazard"],
                            ["product_quality", "safety_hazard"]]}
    out = unwarranted_labels(examples, pred, ids, "c")
    assert out["c.issue.safety_hazard.false_share"] == pytest.approx(2 / 3)  # 2 of the 3 texts without it
    assert out["c.issue.product_quality.false_share"] == pytest.approx(1 / 4)
    assert out["c.issue.return_refund.false_share"] == 0.0  # given only where gold has it
    assert out["c.issue.any_false_share"] == pytest.approx(2 / 4)
    everyone = [_example(n, "x", "low", ("safety_hazard",)) for n in range(2)]
    assert "c.issue.safety_hazard.false_share" not in unwarranted_labels(
        everyone, {"issue_types": [[], []]}, ids, "c")  # no text lacks it: undefined, left out
    assert unwarranted_labels([], {"issue_types": []}, ids, "c") == {}
