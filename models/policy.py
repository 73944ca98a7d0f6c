"""Priority policy: turns head outputs into urgency, ticket priority and human-readable reasons.

Every cue, rule, name and mapping comes from the taxonomy file; this module only applies them, so
changing the policy is an edit of ``data/taxonomy.yaml`` and a retrain-free redeploy of the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from models import cues
from models.taxonomy import Taxonomy


@dataclass(frozen=True)
class TicketContext:
    """What a real ticket carries besides its text; rules in the taxonomy may look at any of it."""

    customer_tier: str | None = None  # e.g. normal, vip, svip, enterprise (lower-cased before matching)
    contact_count: int | None = None  # how many times the customer has contacted us about this
    order_value: float | None = None  # in CNY
    channel: str | None = None  # e.g. chat, email, phone, app, weibo, douyin

    @staticmethod
    def from_row(row: dict) -> TicketContext:
        """Tolerant of the NaN/None/str values a DataFrame row carries."""

        def clean(v):
            return None if v is None or (isinstance(v, float) and v != v) or v == "" else v

        count, value = clean(row.get("contact_count")), clean(row.get("order_value"))
        tier, channel = clean(row.get("customer_tier")), clean(row.get("channel"))
        return TicketContext(
            customer_tier=str(tier).strip().lower() if tier is not None else None,
            contact_count=int(float(count)) if count is not None else None,
            order_value=float(value) if value is not None else None,
            channel=str(channel).strip().lower() if channel is not None else None,
        )


NO_CONTEXT = TicketContext()


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
    def _cues(self) -> cues.Cues:
        return cues.as_cues(self.taxonomy.cues)

    def find_cues(self, text: str) -> dict[str, list[str]]:
        """Cue name → distinct matched strings, on normalised text."""
        return cues.found(self._cues, text)

    @staticmethod
    def _holds(when: dict, issue_types: list[str], cues: dict[str, list[str]], ctx: TicketContext,
               sentiment: str | None = None) -> bool:
        """Every condition in ``when`` must hold (AND). ``has_issue: false`` asks for no predicted issue type;
        ``sentiment`` lists the predicted sentiments it accepts (no sentiment given: the rule does not hold)."""
        if "issue_type" in when and when["issue_type"] not in issue_types:
            return False
        if "only_issue_types" in when and not (issue_types and set(issue_types) <= set(when["only_issue_types"])):
            return False
        if "cue" in when and when["cue"] not in cues:
            return False
        if "has_issue" in when and bool(when["has_issue"]) != bool(issue_types):
            return False
        if "sentiment" in when and sentiment not in when["sentiment"]:
            return False
        if "contact_count_at_least" in when and (ctx.contact_count or 0) < int(when["contact_count_at_least"]):
            return False
        if "order_value_at_least" in when and (ctx.order_value or 0.0) < float(when["order_value_at_least"]):
            return False
        if "customer_tier" in when and (ctx.customer_tier or "").strip().lower() not in [
                str(t).lower() for t in when["customer_tier"]]:
            return False
        return not ("channel" in when and (ctx.channel or "").strip().lower() not in [
            str(c).lower() for c in when["channel"]])

    @staticmethod
    def _detail(when: dict, cues: dict[str, list[str]], ctx: TicketContext) -> str:
        """The concrete evidence behind a rule, shown after its reason."""
        if "cue" in when:
            return "、".join(cues.get(when["cue"], []))
        if "contact_count_at_least" in when:
            return f"第 {ctx.contact_count} 次联系 contact #{ctx.contact_count}"
        if "customer_tier" in when:
            return f"{ctx.customer_tier}"
        if "order_value_at_least" in when:
            return f"¥{ctx.order_value:,.2f}"
        if "channel" in when:
            return f"{ctx.channel}"
        return ""

    def decide(
        self, urgency: str, urgency_confidence: float, issue_types: list[str], text: str = "",
        context: TicketContext = NO_CONTEXT, sentiment: str | None = None,
    ) -> PriorityDecision:
        """Apply the taxonomy's rules in order. ``cap_urgency`` lowers (e.g. invoice-only questions);
        ``min_urgency`` raises to at least a level; ``raise_levels`` moves up, never past ``max_urgency``."""
        name = self.taxonomy.urgency_name
        reasons = [f"模型紧急度「{name(urgency)}」 model urgency {urgency} (confidence {urgency_confidence:.2f})"]
        cues = self.find_cues(text) if text else {}
        level = self._rank[urgency]
        escalate = False
        fired = []
        for rule in self.taxonomy.rules:
            when = rule.get("when", {})
            if not self._holds(when, issue_types, cues, context, sentiment):
                continue
            new = level
            if "cap_urgency" in rule:
                new = max(new, self._rank[rule["cap_urgency"]])
            if "min_urgency" in rule:
                new = min(new, self._rank[rule["min_urgency"]])
            if "raise_levels" in rule:
                cap = self._rank[rule.get("max_urgency", self.levels[0])]
                new = min(new, max(level - int(rule["raise_levels"]), cap))
            changed = new != level
            escalate = escalate or bool(rule.get("escalate"))
            if changed or rule.get("escalate"):
                fired.append(rule["id"])
                terms = self._detail(when, cues, context)
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

    def served_level_table(self, texts: list[str], issue_types: list[list[str]], sentiments: list[str],
                           contexts: list[TicketContext] | None = None) -> np.ndarray:
        """(texts, levels) integer array: the urgency index served for a text when the model says level k.

        Why: urgency cuts tuned on the model's levels alone ignore that the rules already make about half of
        the critical texts critical (safety words, threats) and cap others (invoice-only questions). With
        this table a cut can be tuned on the decision operators receive (:func:`models.analyzer.tune_urgency_cuts`)."""
        out = np.zeros((len(texts), len(self.levels)), dtype=np.int64)
        for i, text in enumerate(texts):
            ctx = contexts[i] if contexts is not None else NO_CONTEXT
            for k, level in enumerate(self.levels):
                out[i, k] = self._rank[self.decide(level, 1.0, issue_types[i], text, ctx, sentiments[i]).urgency]
        return out
