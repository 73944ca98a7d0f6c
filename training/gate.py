"""The champion gate: may a newly trained model replace ``@champion``?

Both models are scored on the same test texts, and only on texts *neither* of them trained on. Without
that, a champion that learnt some of today's test texts before they were annotated (as weak sentiment
examples, say) looks better than it is and keeps its alias against a better model: that happened to v4.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.seen_texts import split_by_seen


@dataclass(frozen=True)
class GateSplit:
    rows: list[int]  # indices into the test split that both models are scored on
    excluded: int  # test texts left out because one of the models trained on them
    basis: str  # how the texts were chosen, in words, for the report and the run's tags


def gate_split(test_texts: list[str], champion_version: str, champion_seen: frozenset[str] | None,
               candidate_seen: frozenset[str], champion_on_same_data: bool) -> GateSplit:
    """The test rows to compare on.

    A champion from before seen-text records has none; if it was trained on the very corpus version the
    candidate sees now, its training texts and the candidate's are the same and the full split is fair.
    Otherwise the full split is used and the basis says it may favour the champion.
    """
    rows, left_out = split_by_seen(test_texts, candidate_seen | (champion_seen or frozenset()))
    excluded = len(left_out)
    if champion_seen is not None:
        basis = f"{len(rows)} test texts neither model trained on"
        if excluded:
            basis += f" ({excluded} left out: trained on by champion v{champion_version} or the candidate)"
    elif champion_on_same_data:
        basis = f"{len(rows)} test texts; champion v{champion_version} trained on this same corpus version"
    else:
        basis = (f"{len(rows)} test texts; champion v{champion_version} recorded no training texts and was "
                 "trained on another corpus version, so it may have seen some of them")
    return GateSplit(rows, excluded, basis)


def no_worse(candidate: dict[str, float], incumbent: dict[str, float], metrics: tuple[str, ...], tol: float = 0.0) -> bool:
    """True when the candidate is at least as good on every gate metric (missing = not comparable = pass)."""
    for m in metrics:
        if m in candidate and m in incumbent and candidate[m] + tol < incumbent[m]:
            return False
    return True


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str


def decide(candidate: dict[str, float], champion: dict[str, float], metrics: tuple[str, ...], split: GateSplit,
           champion_version: str, min_examples: int) -> GateDecision:
    """Promote when no worse on every gate metric, compared on ``split``.

    When texts had to be left out and too few remain, the comparison is noise, so the candidate is not
    promoted automatically (``--force`` still can)."""
    if split.excluded and len(split.rows) < min_examples:
        return GateDecision(False, f"only {len(split.rows)} test texts are unseen by both models (fewer than "
                                   f"{min_examples}); compare by hand and use --force to promote")
    if no_worse(candidate, champion, metrics):
        return GateDecision(True, f"no worse than v{champion_version} on {', '.join(metrics)} ({split.basis})")
    return GateDecision(False, f"worse than champion v{champion_version} on {split.basis}; use --force to promote")
