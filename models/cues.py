"""Matching the taxonomy's text cues, shared by the escalation policy and the second stage.

Both read the same texts in the same batch, so which cues a text matches is cached per normalised text:
the second stage's search is the one that runs, the policy's is a cache hit.
"""

from __future__ import annotations

import re
from functools import lru_cache

from models.text import normalize

Cues = tuple[tuple[str, str], ...]  # (name, regular expression) in taxonomy order; hashable for the caches


def as_cues(cues: dict[str, str]) -> Cues:
    return tuple(cues.items())


@lru_cache(maxsize=32)
def _compiled(cues: Cues) -> tuple[re.Pattern, tuple[re.Pattern, ...]]:
    """All cues as one alternation (most texts match none, and one search says so), then each cue."""
    return (re.compile("|".join(f"(?:{rx})" for _name, rx in cues)),
            tuple(re.compile(rx) for _name, rx in cues))


@lru_cache(maxsize=4096)  # a batch of scoring: the same size as normalize's cache
def _matching(cues: Cues, norm: str) -> tuple[int, ...]:
    any_cue, each = _compiled(cues)
    if not any_cue.search(norm):
        return ()
    return tuple(i for i, rx in enumerate(each) if rx.search(norm))  # search is much cheaper than finditer


def matching(cues: Cues, text: str) -> tuple[int, ...]:
    """Positions in ``cues`` of the cues the normalised ``text`` matches."""
    return _matching(cues, normalize(text)) if cues else ()


def found(cues: Cues, text: str) -> dict[str, list[str]]:
    """Cue name → distinct matched strings, on normalised text (what the policy quotes in its reasons)."""
    hits = matching(cues, text)
    if not hits:
        return {}
    norm, each = normalize(text), _compiled(cues)[1]
    return {cues[i][0]: list(dict.fromkeys(m.group(0) for m in each[i].finditer(norm))) for i in hits}
