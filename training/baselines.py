"""Reference points for the evaluation report, measured on the same split as the model.

- SnowNLP's bundled sentiment classifier. Caveat: SnowNLP trained it on the very pos/neg files our
  real texts come from, so it has seen our test texts and its figures are optimistic.
- A keyword-rule triage: issue types from each label's ``keywords`` in the taxonomy, urgency from the
  policy's cues. It is what a rules-only ticket router would do.
"""

from __future__ import annotations

import re

from models.policy import PriorityPolicy
from models.taxonomy import Taxonomy
from models.text import normalize
from training.dataset import Example

CRITICAL_CUES = ("safety", "legal_threat", "media_threat")
HIGH_CUES = ("unusable", "lost_parcel", "escalation", "anger")


def snownlp_sentiment(texts: list[str]) -> list[str]:
    from snownlp import SnowNLP

    return ["positive" if SnowNLP(t).sentiments >= 0.5 else "negative" for t in texts]


def keyword_triage(texts: list[str], taxonomy: Taxonomy) -> dict[str, list]:
    patterns = {lab.id: re.compile(lab.keywords) for lab in taxonomy.issue_types if lab.keywords}
    policy = PriorityPolicy(taxonomy)
    issues, urgency = [], []
    levels = taxonomy.urgency_ids
    for text in texts:
        norm = normalize(text)
        found = [lab for lab, rx in patterns.items() if rx.search(norm)]
        cues = policy.find_cues(text)
        if any(c in cues for c in CRITICAL_CUES):
            level = levels[0]
        elif any(c in cues for c in HIGH_CUES):
            level = levels[1]
        elif found:
            level = levels[2]
        else:
            level = levels[3]
        issues.append(found)
        urgency.append(level)
    return {"issue_types": issues, "urgency": urgency}


def baseline_metrics(examples: list[Example], taxonomy: Taxonomy, prefix: str = "test") -> dict[str, dict[str, float]]:
    """{"snownlp": {...}, "keyword_triage": {...}} with the same metric names as the model's."""
    from training.evaluate import metrics_from_predictions

    texts = [e.text for e in examples]
    triage = keyword_triage(texts, taxonomy)
    snow = snownlp_sentiment(texts)
    # each baseline only answers some heads; the others get a constant placeholder and are dropped
    filler_s = ["neutral"] * len(examples)
    out_snow = metrics_from_predictions(
        examples, {"issue_types": [[]] * len(examples), "sentiment": snow, "urgency": triage["urgency"]}, taxonomy, prefix
    )
    out_kw = metrics_from_predictions(
        examples, {"issue_types": triage["issue_types"], "sentiment": filler_s, "urgency": triage["urgency"]}, taxonomy,
        prefix,
    )
    return {
        "snownlp": {k: v for k, v in out_snow.items() if ".sentiment." in k},
        "keyword_triage": {k: v for k, v in out_kw.items() if ".issue." in k or ".urgency." in k},
    }
