"""The annotated real texts are exactly what the documented sampling procedure selects."""

import json

from models.settings import REPO_ROOT
from training.annotation_sample import select, select_round2


def test_both_sampling_rounds_reproduce_the_annotated_ids():
    annotated = {json.loads(x)["id"] for x in (REPO_ROOT / "data/corpus/real_labels.jsonl").read_text().splitlines()}
    round1 = {r.id for r in select()}
    round2 = {r.id for r in select_round2(round1)}
    assert len(round1) == 3400 and len(round2) == 3000 and not round1 & round2
    assert round1 | round2 == annotated
