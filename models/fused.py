"""The fused backend: the TF-IDF heads averaged with heads on frozen multilingual sentence embeddings.

Measured on the held-out real test split (see the README's model table), averaging the linear model with
logistic regressions on multilingual-e5-small embeddings adds about two points of issue-type micro-F1,
three of macro-F1 and two of sentiment accuracy, while e5 embeds only tens of texts per second on two
cores. So it is an option (``FEEDBACK_BACKEND=fused``) for low-volume deployments, not the default.

Explanations (``keywords``) come from the TF-IDF half, the only half that has word-level attributions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.analyzer import FeedbackAnalyzer
from models.embeddings import make_backend
from models.heads import MultiLabelHead, SoftmaxHead
from models.taxonomy import Taxonomy
from models.text import normalize

_MEMO_MAX = 100_000  # embeddings remembered per process (a training run embeds each text once)


class FusedAnalyzer(FeedbackAnalyzer):
    """``(1 - weight) × TF-IDF heads + weight × embedding heads``, per head and class."""

    backend = "fused"

    def __init__(self, taxonomy: Taxonomy, embedding: str = "e5", weight: float = 0.5, seed: int = 42,
                 C: float = 4.0, embedding_C: float = 1.0, embedding_params: dict[str, Any] | None = None):
        # probabilities are averaged with the embedding heads', so the TF-IDF heads stay logistic: the
        # hinge heads' scores are not calibrated probabilities and the weight was chosen with these
        super().__init__(taxonomy, seed=seed, C=C, issue_loss="logistic")
        if not 0.0 <= weight <= 1.0:
            raise ValueError("fusion weight must be in [0, 1]")
        self.embedding = embedding
        self.embedding_params = dict(embedding_params or {})
        self.weight = weight
        self.embedding_C = embedding_C
        self.embedder = make_backend(embedding, **self.embedding_params)
        self.embedding_issue_head = MultiLabelHead(taxonomy.issue_type_ids, C=embedding_C, seed=seed)
        self.embedding_sentiment_head = SoftmaxHead(taxonomy.sentiment_ids, C=embedding_C, seed=seed)
        self.embedding_urgency_head = SoftmaxHead(taxonomy.urgency_ids, C=embedding_C, seed=seed)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts``; each distinct normalised text is embedded once per process (threshold
        tuning, evaluation and the robustness check's variants all revisit the same texts, and e5 is slow).
        Backends embed the normalised text, so keying the memo by it changes no vector."""
        memo: dict[str, np.ndarray] = self.__dict__.setdefault("_memo", {})
        keys = [normalize(t) for t in texts]  # what the backend embeds; variants of a text share it
        missing = list(dict.fromkeys(k for k in keys if k not in memo))
        if missing:
            if len(memo) + len(missing) > _MEMO_MAX:
                memo.clear()
            memo.update(zip(missing, self.embedder.encode(missing), strict=True))
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([memo[k] for k in keys])

    def fit(self, issue_texts, issue_labels, urgency_labels, sentiment_texts, sentiment_labels,
            sentiment_weights=None) -> FusedAnalyzer:
        """The TF-IDF heads as usual; the embedding heads on the annotated texts only. Sentiment's weakly
        labelled texts (weight below 1) are left out of the embedding half: embedding ten thousand more
        texts with e5 would take minutes."""
        super().fit(issue_texts, issue_labels, urgency_labels, sentiment_texts, sentiment_labels, sentiment_weights)
        self.__dict__.pop("_memo", None)
        issue_texts = list(issue_texts)
        if getattr(self.embedder, "needs_fit", False):
            self.embedder.fit(issue_texts)
        E = self.embed(issue_texts)
        self.embedding_issue_head.fit(E, self.binarize(issue_labels))
        self.embedding_urgency_head.fit(E, list(urgency_labels))
        weights = np.ones(len(sentiment_texts)) if sentiment_weights is None else np.asarray(sentiment_weights)
        gold = [i for i, w in enumerate(weights) if w >= 1.0]
        self.embedding_sentiment_head.fit(self.embed([sentiment_texts[i] for i in gold]),
                                          [sentiment_labels[i] for i in gold])
        return self

    def _text_probabilities(self, texts: list[str], X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        issue, sentiment, urgency = self._probabilities(X)
        E = self.embed(texts)
        w = self.weight
        return ((1 - w) * issue + w * self.embedding_issue_head.predict_proba(E),
                (1 - w) * sentiment + w * self.embedding_sentiment_head.predict_proba(E),
                (1 - w) * urgency + w * self.embedding_urgency_head.predict_proba(E))

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_memo", None)
        return state

    def params(self) -> dict[str, object]:
        return {**super().params(), "embedding": self.embedding, "fusion_weight": self.weight,
                "embedding_C": self.embedding_C, **{f"embedding.{k}": v for k, v in self.embedding_params.items()}}
