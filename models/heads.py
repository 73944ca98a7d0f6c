"""Classifier heads over a shared feature matrix, in scikit-learn's shape."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


def tune_thresholds(P: np.ndarray, Y: np.ndarray, default: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Per-label decision threshold with the best F1 on validation data. Rare labels such as
    ``invoice`` need a different cut than common ones; labels absent from ``Y`` keep ``default``."""
    grid = np.linspace(0.1, 0.9, 33) if grid is None else grid
    out = np.array(default, dtype=float).copy()
    for j in range(Y.shape[1]):
        y = Y[:, j]
        if y.sum() == 0:
            continue
        best, best_t = -1.0, out[j]
        for t in grid:
            pred = P[:, j] >= t
            tp = float((pred & (y == 1)).sum())
            f1 = 2 * tp / (pred.sum() + y.sum()) if (pred.sum() + y.sum()) else 0.0
            if f1 > best:
                best, best_t = f1, float(t)
        out[j] = best_t
    return out


class MultiLabelHead:
    """One balanced logistic regression per label. A label never seen in training gets probability 0,
    so it is never predicted."""

    def __init__(self, labels: list[str], C: float = 4.0, seed: int = 42):
        self.labels = list(labels)
        self.C = C
        self.seed = seed
        self.estimators: dict[str, LogisticRegression | None] = {}

    def fit(self, X, Y: np.ndarray) -> MultiLabelHead:
        for j, label in enumerate(self.labels):
            y = Y[:, j]
            if y.min() == y.max():
                self.estimators[label] = None
                continue
            clf = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000, random_state=self.seed)
            self.estimators[label] = clf.fit(X, y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        out = np.zeros((X.shape[0], len(self.labels)), dtype=np.float64)
        for j, label in enumerate(self.labels):
            clf = self.estimators.get(label)
            if clf is not None:
                out[:, j] = clf.predict_proba(X)[:, 1]
        return out


class SoftmaxHead:
    """Multinomial logistic regression whose probability columns follow a fixed class order
    (the taxonomy's), whatever subset of classes the training data happens to contain."""

    def __init__(self, classes: list[str], C: float = 4.0, class_weight: str | None = "balanced", seed: int = 42):
        self.classes = list(classes)
        self.C = C
        self.class_weight = class_weight
        self.seed = seed
        self.clf: LogisticRegression | None = None

    def fit(self, X, y: list[str], sample_weight: np.ndarray | None = None) -> SoftmaxHead:
        unknown = set(y) - set(self.classes)
        if unknown:
            raise ValueError(f"unknown classes in training labels: {sorted(unknown)}")
        self.clf = LogisticRegression(
            C=self.C, class_weight=self.class_weight, max_iter=3000, random_state=self.seed
        )
        self.clf.fit(X, y, sample_weight=sample_weight)
        return self

    def predict_proba(self, X) -> np.ndarray:
        if self.clf is None:
            raise RuntimeError("head is not fitted")
        raw = self.clf.predict_proba(X)
        out = np.zeros((X.shape[0], len(self.classes)))
        for j, c in enumerate(self.clf.classes_):
            out[:, self.classes.index(c)] = raw[:, j]
        return out

    def predict(self, X) -> list[str]:
        P = self.predict_proba(X)
        return [self.classes[i] for i in P.argmax(axis=1)]
