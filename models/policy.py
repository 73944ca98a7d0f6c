"""Priority policy: turns head outputs into a ticket priority and human-readable reasons.

All thresholds, names and mappings come from the taxonomy file; this module only applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.taxonomy import Taxonomy

SAFETY_LABEL = "safety_hazard"


@dataclass(frozen=True)
class PriorityDecision:
    priority: str
    urgency: str
    reasons: list[str]


class PriorityPolicy:
    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self._rank = {lv: i for i, lv in enumerate(taxonomy.urgency_ids)}  # 0 = most urgent

    def decide(self, urgency: str, urgency_confidence: float, issue_types: list[str]) -> PriorityDecision:
        reasons = [
            f"紧急度「{self.taxonomy.urgency_name(urgency)}」 urgency {urgency} "
            f"(confidence {urgency_confidence:.2f})"
        ]
        most_urgent = self.taxonomy.urgency_ids[0]
        if SAFETY_LABEL in issue_types and urgency != most_urgent:
            urgency = most_urgent
            reasons.append("检测到安全隐患，升至最高紧急度 safety hazard detected → most urgent")
        if issue_types:
            names = "、".join(self.taxonomy.issue_name(i) for i in issue_types)
            reasons.append(f"问题类型 issue types: {names}")
        priority = self.taxonomy.priority_from_urgency[urgency]
        reasons.append(f"优先级 {priority} 由紧急度决定 priority follows urgency")
        return PriorityDecision(priority=priority, urgency=urgency, reasons=reasons)
