"""Matching the taxonomy's text cues, shared by the escalation policy and the second stage.

Both read the same texts in the same batch, so which cues a text matches is cached per normalised text:
the second stage's search is the one that runs, the policy's is a cache hit.

A cue is a regular expression, or a mapping ``{match: ..., except: ...}``. ``except`` names phrases that
contain the cue's words without meaning the cue (律师事务所, 法院对面, 客服让我去打12315): they are blanked
out before ``match`` is searched, so the cue still fires on a real threat elsewhere in the same text. Why not
lookbehinds: Python's are fixed-width, and "someone told me to call 12315" takes many lengths.
"""

from __future__ import annotations

import re
from functools import lru_cache

from models.text import normalize

Cue = tuple[str, str, str]  # (name, expression, except-expression or "")
Cues = tuple[Cue, ...]  # in taxonomy order; hashable for the caches


def cue_parts(spec: str | dict) -> tuple[str, str]:
    """(match, except) of one cue as the taxonomy writes it."""
    if isinstance(spec, str):
        return spec, ""
    unknown = set(spec) - {"match", "except"}
    if "match" not in spec or unknown:
        raise ValueError(f"a cue is a regular expression or {{match, except}}, got keys {sorted(spec)}")
    return str(spec["match"]), str(spec.get("except") or "")


def as_cues(cues: dict[str, str | dict]) -> Cues:
    return tuple((name, *cue_parts(spec)) for name, spec in cues.items())


@lru_cache(maxsize=32)
def _compiled(cues: Cues) -> tuple[re.Pattern, tuple[tuple[re.Pattern, re.Pattern | None], ...]]:
    """All cues as one alternation (most texts match none, and one search says so), then each cue with its
    exceptions. Blanking exceptions only removes matches, so the alternation stays a valid first test."""
    return (re.compile("|".join(f"(?:{rx})" for _name, rx, _ex in cues)),
            tuple((re.compile(rx), re.compile(ex) if ex else None) for _name, rx, ex in cues))


def _blank(norm: str, exceptions: re.Pattern | None) -> str:
    """``norm`` with every exception phrase replaced by spaces of the same length."""
    return exceptions.sub(lambda m: " " * len(m.group(0)), norm) if exceptions is not None else norm


@lru_cache(maxsize=4096)  # a batch of scoring: the same size as normalize's cache
def _matching(cues: Cues, norm: str) -> tuple[int, ...]:
    any_cue, each = _compiled(cues)
    if not any_cue.search(norm):
        return ()
    # search is much cheaper than finditer; exceptions are blanked only when the cue matches at all, which
    # for the threat cues is a few texts in a thousand
    return tuple(i for i, (rx, ex) in enumerate(each)
                 if rx.search(norm) and (ex is None or rx.search(_blank(norm, ex))))


def matching(cues: Cues, text: str) -> tuple[int, ...]:
    """Positions in ``cues`` of the cues the normalised ``text`` matches."""
    return _matching(cues, normalize(text)) if cues else ()


def found(cues: Cues, text: str) -> dict[str, list[str]]:
    """Cue name → distinct matched strings, on normalised text (what the policy quotes in its reasons)."""
    hits = matching(cues, text)
    if not hits:
        return {}
    norm, each = normalize(text), _compiled(cues)[1]
    return {cues[i][0]: list(dict.fromkeys(m.group(0) for m in each[i][0].finditer(_blank(norm, each[i][1]))))
            for i in hits}
