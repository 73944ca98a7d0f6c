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
