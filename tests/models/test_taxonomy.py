import pytest
import yaml

from models.settings import REPO_ROOT
from models.taxonomy import Taxonomy, load_taxonomy

TAXONOMY = REPO_ROOT / "data" / "taxonomy.yaml"


def test_repo_taxonomy_loads_with_expected_labels():
    tax = load_taxonomy(TAXONOMY)
    assert len(tax.issue_type_ids) == 11
    assert tax.issue_name("logistics") == "物流配送"
    assert tax.urgency_ids == ["critical", "high", "medium", "low"]
    assert tax.sentiment_ids == ["negative", "neutral", "positive"]
    assert tax.priority_from_urgency == {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}
    sla = {p.id: (p.first_response_hours, p.resolution_hours) for p in tax.priority_levels}
    assert sla == {"P1": (1, 24), "P2": (2, 24), "P3": (4, 48), "P4": (24, 72)}
    assert set(tax.playbook) == set(tax.issue_type_ids)


def test_round_trip_through_dict():
    tax = load_taxonomy(TAXONOMY)
    assert Taxonomy.from_dict(tax.to_dict()) == tax


def test_invalid_taxonomy_is_rejected():
    raw = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    raw["issue_types"].append(dict(raw["issue_types"][0]))
    with pytest.raises(ValueError, match="duplicate"):
        Taxonomy.from_dict(raw)
    raw = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    del raw["priority"]["from_urgency"]["low"]
    with pytest.raises(ValueError, match="priority"):
        Taxonomy.from_dict(raw)


def test_a_cue_with_exceptions_still_fires_on_a_real_match_elsewhere_in_the_text():
    from models.cues import as_cues, found, matching

    table = as_cues({"threat": {"match": "律师|起诉", "except": "律师事务所|做律师"}, "plain": "退款"})
    assert matching(table, "我们律师事务所要开发票") == ()
    assert found(table, "我老公是做律师的，他说可以起诉你们") == {"threat": ["起诉"]}
    assert found(table, "律师事务所的快递丢了，我找律师了，退款") == {"threat": ["律师"], "plain": ["退款"]}


@pytest.mark.parametrize("spec, message", [
    ({"except": "x"}, "match, except"), ({"match": "x", "unless": "y"}, "match, except"),
    ({"match": "x", "except": "("}, "bad regular expression"), ("(", "bad regular expression"),
])
def test_bad_cues_are_refused_when_the_taxonomy_loads(spec, message):
    from models.settings import REPO_ROOT
    from models.taxonomy import Taxonomy, load_taxonomy

    raw = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml").to_dict()
    raw["cues"]["extra"] = spec
    with pytest.raises(ValueError, match=message):
        Taxonomy.from_dict(raw)
