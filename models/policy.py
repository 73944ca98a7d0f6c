"""Priority policy: turns head outputs into urgency, ticket priority and human-readable reasons.

Every cue, rule, name and mapping comes from the taxonomy file; this module only applies them, so
changing the policy is an edit of ``data/taxonomy.yaml`` and a retrain-free redeploy of the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from models.taxonomy import Taxonomy
from models.text import normalize


@dataclass(frozen=True)
class PriorityDecision:
    priority: str
    urgency: str
    reasons: list[str]
    escalate: bool = False
    fired: list[str] = field(default_factory=list)
    cues: dict[str, list[str]] = field(default_factory=dict)


class PriorityPolicy:
    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self.levels = taxonomy.urgency_ids  # most urgent first
        self._rank = {lv: i for i, lv in enumerate(self.levels)}

    @cached_property
    def _cue_patterns(self) -> dict[str, re.Pattern]:
        return {name: re.compile(rx) for name, rx in self.taxonomy.cues.items()}

    def find_cues(self, text: str) -> dict[str, list[str]]:
        """Cue name → distinct matched strings, on normalised text."""
        norm = normalize(text)
        found = {}
        for name, rx in self._cue_patterns.items():
            if rx.search(norm):  # most texts match no cue; search is much cheaper than finditer
                found[name] = list(dict.fromkeys(m.group(0) for m in rx.finditer(norm)))
        return found

    def _holds(self, when: dict, issue_types: list[str], cues: dict[str, list[str]]) -> bool:
        if "issue_type" in when and when["issue_type"] not in issue_types:
            return False
        if "cue" in when and when["cue"] not in cues:
            return False
        return not (when.get("has_issue") and not issue_types)

    def decide(
        self, urgency: str, urgency_confidence: float, issue_types: list[str], text: str = ""
    ) -> PriorityDecision:
        name = self.taxonomy.urgency_name
        reasons = [f"模型紧急度「{name(urgency)}」 model urgency {urgency} (confidence {urgency_confidence:.2f})"]
        cues = self.find_cues(text) if text else {}
        level = self._rank[urgency]
        escalate = False
        fired = []
        for rule in self.taxonomy.rules:
            when = rule.get("when", {})
            if not self._holds(when, issue_types, cues):
                continue
            new = level
            if "min_urgency" in rule:
                new = min(new, self._rank[rule["min_urgency"]])
            if "raise_levels" in rule:
                cap = self._rank[rule.get("max_urgency", self.levels[0])]
                new = min(new, max(level - int(rule["raise_levels"]), cap))
            changed = new < level
            escalate = escalate or bool(rule.get("escalate"))
            if changed or rule.get("escalate"):
                fired.append(rule["id"])
                terms = "、".join(cues.get(when.get("cue", ""), []))
                detail = f"：{terms}" if terms else ""
                effect = f" → {name(self.levels[new])} {self.levels[new]}" if changed else ""
                reasons.append(f"{rule['reason']}{detail}{effect}")
            level = new
        final = self.levels[level]
        if issue_types:
            names = "、".join(self.taxonomy.issue_name(i) for i in issue_types)
            reasons.append(f"问题类型 issue types: {names}")
        priority = self.taxonomy.priority_from_urgency[final]
        reasons.append(f"优先级 {priority} ← 紧急度「{name(final)}」 priority follows urgency {final}")
        return PriorityDecision(priority, final, reasons, escalate, fired, cues)
