"""Metrics per head, in one flat dict that MLflow logs as-is and the CLI prints."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def _key(label: str) -> str:
    return label.replace("/", "_")


def _per_class(prefix: str, labels: list[str], p, r, f, s) -> dict[str, float]:
    out = {}
    for j, lab in enumerate(labels):
        for name, values in (("precision", p), ("recall", r), ("f1", f), ("support", s)):
            out[f"{prefix}.{_key(lab)}.{name}"] = float(values[j])
    return out


def multilabel_metrics(Y_true: np.ndarray, Y_pred: np.ndarray, labels: list[str], prefix: str) -> dict[str, float]:
    out = {
        f"{prefix}.micro_f1": float(f1_score(Y_true, Y_pred, average="micro", zero_division=0)),
    }
    present = [j for j in range(len(labels)) if Y_true[:, j].sum() > 0]
    out[f"{prefix}.macro_f1"] = (
        float(f1_score(Y_true[:, present], Y_pred[:, present], average="macro", zero_division=0)) if present else 0.0
    )
    out.update(_per_class(prefix, labels, *precision_recall_fscore_support(Y_true, Y_pred, average=None, zero_division=0)))
    return out


def multiclass_metrics(y_true: list[str], y_pred: list[str], labels: list[str], prefix: str) -> dict[str, float]:
    out = {
        f"{prefix}.accuracy": float(accuracy_score(y_true, y_pred)) if y_true else 0.0,
        f"{prefix}.macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }
    out.update(_per_class(prefix, labels, *precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)))
    return out


def urgency_recall_at_or_above(y_true: list[str], y_pred: list[str], ordered: list[str], level: str) -> float:
    """Recall of "``level`` or more urgent": of texts truly at/above it, how many were predicted at/above."""
    rank = {lv: i for i, lv in enumerate(ordered)}
    cut = rank[level]
    idx = [i for i, t in enumerate(y_true) if rank[t] <= cut]
    if not idx:
        return float("nan")
    return float(np.mean([rank[y_pred[i]] <= cut for i in idx]))


def confusion(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=labels)
