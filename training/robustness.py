"""Behavioural robustness: the same text written differently must get the same labels.

Variants of each held-out text: full-width characters, 繁體, added emoji, an order number inserted,
a phone number inserted. A result is consistent when issue types, sentiment and urgency all equal
those of the original text.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pandas as pd

from models.pyfunc import FeedbackAnalyzerModel

EMOJI = ("😡", "😭", "🙏", "👍", "😂", "❤️", "👎🏻", "🤔")


def to_full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


_S2T = None


def to_traditional(text: str) -> str:
    global _S2T
    if _S2T is None:
        from opencc import OpenCC

        _S2T = OpenCC("s2t")
    return _S2T.convert(text)


_BOUNDARY = set("，。！？,.!?；;：: \n")


def _insert(text: str, piece: str, rng: random.Random) -> str:
    """Insert at the start, the end or after a punctuation mark, never inside a word or number."""
    cuts = [0, len(text)] + [i + 1 for i, c in enumerate(text) if c in _BOUNDARY]
    cut = rng.choice(cuts)
    return text[:cut] + piece + text[cut:]


def variants(text: str, rng: random.Random) -> dict[str, str]:
    order = "".join(rng.choice("0123456789") for _ in range(13))
    phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    return {
        "full_width": to_full_width(text),
        "traditional": to_traditional(text),
        "emoji": _insert(text, rng.choice(EMOJI), rng) + rng.choice(EMOJI),
        "order_number": _insert(text, f" 订单号{order} ", rng),
        "phone_number": _insert(text, f" 电话{phone} ", rng),
    }


def _signature(result: dict) -> tuple:
    return (
        tuple(sorted(x["label"] for x in result["issue_types"])),
        result["sentiment"]["label"],
        result["urgency"]["level"],
    )


def consistency(model: FeedbackAnalyzerModel, texts: list[str], seed: int = 0,
                progress: Callable[[int], None] | None = None) -> dict[str, float]:
    rng = random.Random(seed)
    kinds: list[str] = []
    originals: list[int] = []
    rows: list[str] = list(texts)
    for i, text in enumerate(texts):
        for kind, variant in variants(text, rng).items():
            kinds.append(kind)
            originals.append(i)
            rows.append(variant)
    results = model.predict_records(pd.DataFrame({"text": rows}))
    base = [_signature(r) for r in results[: len(texts)]]
    same: dict[str, list[bool]] = {}
    for k, (kind, i) in enumerate(zip(kinds, originals, strict=True)):
        same.setdefault(kind, []).append(_signature(results[len(texts) + k]) == base[i])
    if progress:
        progress(len(texts))
    out = {f"robustness.{kind}": sum(v) / len(v) for kind, v in same.items()}
    flat = [x for v in same.values() for x in v]
    out["robustness.consistency"] = sum(flat) / len(flat) if flat else float("nan")
    return out
