"""Typed access to ``data/taxonomy.yaml``, the single source of truth for labels and policy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from models.cues import cue_parts

# Conditions a rule's ``when`` may use (see models.policy); anything else is a typo and fails loading.
RULE_CONDITIONS = frozenset({
    "issue_type", "only_issue_types", "has_issue", "cue", "contact_count_at_least", "customer_tier",
    "order_value_at_least", "channel", "sentiment",
})


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    covers: str = ""
    keywords: str = ""  # regex used only by the keyword-triage baseline


@dataclass(frozen=True)
class PriorityLevel:
    id: str
    name: str
    first_response_hours: float
    resolution_hours: float


@dataclass(frozen=True)
class Taxonomy:
    issue_types: tuple[Label, ...]
    sentiments: tuple[Label, ...]
    urgency_levels: tuple[Label, ...]  # most urgent first
    priority_from_urgency: dict[str, str]
    priority_levels: tuple[PriorityLevel, ...]
    playbook: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    severity_from_urgency: dict[str, str] = field(default_factory=dict)
    cues: dict[str, str | dict] = field(default_factory=dict)  # models.cues: a regex or {match, except}
    rules: tuple[dict, ...] = ()

    @property
    def issue_type_ids(self) -> list[str]:
        return [lab.id for lab in self.issue_types]

    @property
    def sentiment_ids(self) -> list[str]:
        return [lab.id for lab in self.sentiments]

    @property
    def urgency_ids(self) -> list[str]:
        return [lab.id for lab in self.urgency_levels]

    @cached_property
    def _issue_names(self) -> dict[str, str]:
        return {lab.id: lab.name for lab in self.issue_types}

    @cached_property
    def _urgency_names(self) -> dict[str, str]:
        return {lab.id: lab.name for lab in self.urgency_levels}

    def issue_name(self, label_id: str) -> str:
        return self._issue_names[label_id]

    def urgency_name(self, level: str) -> str:
        return self._urgency_names[level]

    def to_dict(self) -> dict:
        """Round-trippable form, stored beside the model so a logged model carries its own policy."""
        return {
            "issue_types": [vars(x) for x in self.issue_types],
            "sentiment": [vars(x) for x in self.sentiments],
            "urgency": [vars(x) for x in self.urgency_levels],
            "priority": {
                "from_urgency": dict(self.priority_from_urgency),
                "levels": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "sla": {
                            "first_response_hours": p.first_response_hours,
                            "resolution_hours": p.resolution_hours,
                        },
                    }
                    for p in self.priority_levels
                ],
            },
            "playbook": self.playbook,
            "severity_from_urgency": self.severity_from_urgency,
            "cues": self.cues,
            "rules": list(self.rules),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> Taxonomy:
        def labels(key: str) -> tuple[Label, ...]:
            return tuple(Label(x["id"], x["name"], x.get("covers", ""), x.get("keywords", "")) for x in raw[key])

        tax = cls(
            issue_types=labels("issue_types"),
            sentiments=labels("sentiment"),
            urgency_levels=labels("urgency"),
            priority_from_urgency=dict(raw["priority"]["from_urgency"]),
            priority_levels=tuple(
                PriorityLevel(
                    p["id"], p["name"], p["sla"]["first_response_hours"], p["sla"]["resolution_hours"]
                )
                for p in raw["priority"]["levels"]
            ),
            playbook=raw.get("playbook", {}),
            severity_from_urgency=raw.get("severity_from_urgency", {}),
            cues=dict(raw.get("cues", {})),
            rules=tuple(raw.get("rules", [])),
        )
        tax.validate()
        return tax

    def validate(self) -> None:
        ids = self.issue_type_ids
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate issue type ids in taxonomy")
        missing = set(self.urgency_ids) - set(self.priority_from_urgency)
        if missing:
            raise ValueError(f"urgency levels without a priority: {sorted(missing)}")
        unknown = set(self.playbook) - set(ids)
        if unknown:
            raise ValueError(f"playbook names unknown issue types: {sorted(unknown)}")
        for name, spec in self.cues.items():
            for rx in cue_parts(spec):
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise ValueError(f"cue {name}: bad regular expression ({exc})") from exc
        for rule in self.rules:
            when = rule.get("when", {})
            if "issue_type" in when and when["issue_type"] not in ids:
                raise ValueError(f"rule {rule.get('id')}: unknown issue type {when['issue_type']!r}")
            if "cue" in when and when["cue"] not in self.cues:
                raise ValueError(f"rule {rule.get('id')}: unknown cue {when['cue']!r}")
            for key in ("min_urgency", "max_urgency", "cap_urgency"):
                if key in rule and rule[key] not in self.urgency_ids:
                    raise ValueError(f"rule {rule.get('id')}: unknown urgency {rule[key]!r}")
            for label in when.get("sentiment", []):
                if label not in self.sentiment_ids:
                    raise ValueError(f"rule {rule.get('id')}: unknown sentiment {label!r}")
            for label in when.get("only_issue_types", []):
                if label not in ids:
                    raise ValueError(f"rule {rule.get('id')}: unknown issue type {label!r}")
            unknown_keys = set(when) - RULE_CONDITIONS
            if unknown_keys:
                raise ValueError(f"rule {rule.get('id')}: unknown condition(s) {sorted(unknown_keys)}")

    def priority_level(self, priority: str) -> PriorityLevel:
        return {p.id: p for p in self.priority_levels}[priority]

    def suggested_actions(self, issue_types: list[str], urgency: str) -> list[str]:
        """Playbook entries for the predicted issue types at the severity the final urgency implies."""
        severity = self.severity_from_urgency.get(urgency, "minor")
        actions: dict[str, None] = {}
        for label in issue_types:
            for action in self.playbook.get(label, {}).get(severity, []):
                actions[action] = None
        return list(actions)


def load_taxonomy(path: Path) -> Taxonomy:
    with open(path, encoding="utf-8") as fh:
        return Taxonomy.from_dict(yaml.safe_load(fh))
