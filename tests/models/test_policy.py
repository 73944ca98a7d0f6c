from models.policy import PriorityPolicy
from models.settings import REPO_ROOT
from models.taxonomy import load_taxonomy

TAX = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")


def test_priority_follows_urgency():
    policy = PriorityPolicy(TAX)
    for level, prio in TAX.priority_from_urgency.items():
        d = policy.decide(level, 0.9, [])
        assert d.priority == prio and d.urgency == level


def test_safety_hazard_raises_to_most_urgent_with_reason():
    d = PriorityPolicy(TAX).decide("medium", 0.6, ["product_quality", "safety_hazard"])
    assert d.urgency == "critical" and d.priority == "P1"
    assert any("安全隐患" in r for r in d.reasons)
    assert any("商品质量" in r for r in d.reasons)
