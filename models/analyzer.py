"""The three heads over one shared featurizer, saved and loaded as one object.

Featurising once and scoring all heads on the same matrix is what makes batch scoring fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

from models.featurizers import Featurizer, make_featurizer
from models.heads import MultiLabelHead, SoftmaxHead
from models.taxonomy import Taxonomy

# Position of each urgency level on a 0..1 scale, most urgent = 1. Used for the urgency score.
_URGENCY_SCALE = {"critical": 1.0, "high": 2 / 3, "medium": 1 / 3, "low": 0.0}


@dataclass
class HeadOutputs:
    """Raw per-text outputs of the heads, columns in taxonomy order."""

    issue_proba: np.ndarray  # (n, n_issue_types)
    issue_thresholds: np.ndarray  # (n_issue_types,)
    sentiment_proba: np.ndarray  # (n, 3)
    urgency_proba: np.ndarray  # (n, 4)


class FeedbackAnalyzer:
    def __init__(self, taxonomy: Taxonomy, featurizer: str = "tfidf", seed: int = 42, C: float = 4.0):
        self.taxonomy = taxonomy
        self.featurizer_name = featurizer
        self.seed = seed
        self.C = C
        self.featurizer: Featurizer = make_featurizer(featurizer)
        self.issue_head = MultiLabelHead(taxonomy.issue_type_ids, C=C, seed=seed)
        self.sentiment_head = SoftmaxHead(taxonomy.sentiment_ids, C=C, seed=seed)
        self.urgency_head = SoftmaxHead(taxonomy.urgency_ids, C=C, seed=seed)

    # ---- training -------------------------------------------------------------------------
    def fit(
        self,
        issue_texts: list[str],
        issue_labels: list[list[str]],
        urgency_labels: list[str],
        sentiment_texts: list[str],
        sentiment_labels: list[str],
        sentiment_weights: np.ndarray | None = None,
    ) -> FeedbackAnalyzer:
        """Issue types and urgency are learned from annotated texts; sentiment may add weakly
        labelled texts (``sentiment_texts`` is a superset-or-other list with its own labels)."""
        self.featurizer.fit(list(issue_texts) + list(sentiment_texts))
        X = self.featurizer.transform(list(issue_texts))
        self.issue_head.fit(X, self.binarize(issue_labels))
        self.urgency_head.fit(X, list(urgency_labels))
        Xs = self.featurizer.transform(list(sentiment_texts))
        self.sentiment_head.fit(Xs, list(sentiment_labels), sample_weight=sentiment_weights)
        return self

    def tune(self, texts: list[str], issue_labels: list[list[str]]) -> None:
        """Per-label thresholds on validation data."""
        X = self.featurizer.transform(list(texts))
        self.issue_head.tune_thresholds(X, self.binarize(issue_labels))

    def binarize(self, label_sets: list[list[str]]) -> np.ndarray:
        ids = self.taxonomy.issue_type_ids
        Y = np.zeros((len(label_sets), len(ids)), dtype=int)
        for i, labels in enumerate(label_sets):
            for lab in labels:
                Y[i, ids.index(lab)] = 1
        return Y

    # ---- inference ------------------------------------------------------------------------
    def predict_outputs(self, texts: list[str]) -> HeadOutputs:
        X = self.featurizer.transform(list(texts))
        return HeadOutputs(
            issue_proba=self.issue_head.predict_proba(X),
            issue_thresholds=self.issue_head.thresholds.copy(),
            sentiment_proba=self.sentiment_head.predict_proba(X),
            urgency_proba=self.urgency_head.predict_proba(X),
        )

    def predict(self, texts: list[str]) -> dict[str, list]:
        """Plain labels per head (for evaluation): issue label sets, sentiment, urgency."""
        out = self.predict_outputs(texts)
        ids = self.taxonomy.issue_type_ids
        issues = [[ids[j] for j in np.flatnonzero(row >= out.issue_thresholds)] for row in out.issue_proba]
        sent = [self.taxonomy.sentiment_ids[i] for i in out.sentiment_proba.argmax(1)]
        urg = [self.taxonomy.urgency_ids[i] for i in out.urgency_proba.argmax(1)]
        return {"issue_types": issues, "sentiment": sent, "urgency": urg}

    @staticmethod
    def urgency_score(proba_row: np.ndarray, levels: list[str]) -> float:
        return float(sum(p * _URGENCY_SCALE[lv] for p, lv in zip(proba_row, levels, strict=True)))

    # ---- persistence ----------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path, compress=3)
        return path

    @staticmethod
    def load(path: Path) -> FeedbackAnalyzer:
        obj = joblib.load(path)
        if not isinstance(obj, FeedbackAnalyzer):
            raise TypeError(f"{path} does not hold a FeedbackAnalyzer")
        return obj
