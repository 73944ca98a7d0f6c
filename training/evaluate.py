"""Evaluation of a model on a split: the figures that gate promotion and fill the report.

A model is evaluated through the pyfunc wrapper's ``predict_records``, i.e. on exactly what the API
returns (heads + thresholds + escalation policy), not on the raw heads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.analyzer import binarize
from models.pyfunc import FeedbackAnalyzerModel
from models.text import normalize
from training.dataset import Example
from training.metrics import confusion, multiclass_metrics, multilabel_metrics, urgency_recall_at_or_above

# Issue #4's targets on the held-out real test split (metric → minimum).
TARGETS = {
    "test.issue.micro_f1": 0.85,
    "test.issue.macro_f1": 0.75,
    "test.sentiment.accuracy": 0.92,
    "test.sentiment.polar_accuracy": 0.92,
    "test.urgency.recall_critical": 0.98,
    "test.urgency.recall_high_or_above": 0.85,
    "test.robustness.consistency": 0.95,
}

# Metrics that decide whether a new model may replace the champion (higher is better on each).
GATE_METRICS = ("issue.micro_f1", "sentiment.accuracy", "urgency.recall_high_or_above")

SHORT_CHARS = 20  # "short text": fewer characters than this after normalisation


def predict_labels(model: FeedbackAnalyzerModel, examples: list[Example]) -> dict[str, list]:
    frame = pd.DataFrame({"id": [e.id for e in examples], "text": [e.text for e in examples]})
    results = model.predict_records(frame) if examples else []
    return {
        "issue_types": [[x["label"] for x in r["issue_types"]] for r in results],
        "sentiment": [r["sentiment"]["label"] for r in results],
        "urgency": [r["urgency"]["level"] for r in results],
    }


def metrics_from_predictions(
    examples: list[Example], pred: dict[str, list], taxonomy, prefix: str = "test"
) -> dict[str, float]:
    if not examples:
        return {}
    ids = taxonomy.issue_type_ids
    out: dict[str, float] = {}
    out.update(
        multilabel_metrics(
            binarize([list(e.issue_types) for e in examples], ids), binarize(pred["issue_types"], ids), ids, "issue"
        )
    )
    y_s = [e.sentiment for e in examples]
    out.update(multiclass_metrics(y_s, pred["sentiment"], taxonomy.sentiment_ids, "sentiment"))
    polar = [i for i, y in enumerate(y_s) if y != "neutral"]
    if polar:
        # texts whose gold sentiment is negative or positive, the split binary baselines can be compared on
        out["sentiment.polar_accuracy"] = float(np.mean([pred["sentiment"][i] == y_s[i] for i in polar]))
    y_u = [e.urgency for e in examples]
    levels = taxonomy.urgency_ids
    out.update(multiclass_metrics(y_u, pred["urgency"], levels, "urgency"))
    out["urgency.recall_critical"] = urgency_recall_at_or_above(y_u, pred["urgency"], levels, levels[0])
    out["urgency.recall_high_or_above"] = urgency_recall_at_or_above(y_u, pred["urgency"], levels, levels[1])
    out["n_examples"] = float(len(examples))
    # undefined figures (e.g. critical recall on a split with no critical text) are left out, not NaN
    return {f"{prefix}.{k}": v for k, v in out.items() if v == v}


def operating_point(examples: list[Example], pred: dict[str, list], levels: list[str], prefix: str) -> dict[str, float]:
    """How many tickets the urgency decision raises, beside the recalls: the share of texts made critical
    (P1) and high-or-above, and the share of short medium/low texts made critical (the false P1s that a
    balanced model gives texts it knows little about)."""
    if not examples:
        return {}
    rank = {lv: i for i, lv in enumerate(levels)}
    predicted = np.array([rank[u] for u in pred["urgency"]])
    gold = np.array([rank[e.urgency] for e in examples])
    short = np.array([len(normalize(e.text)) < SHORT_CHARS for e in examples]) & (gold >= rank.get("medium", 2))
    out = {
        "urgency.share_critical": float(np.mean(predicted == 0)),
        "urgency.share_high_or_above": float(np.mean(predicted <= 1)),
        "urgency.n_short_medium_or_low": float(short.sum()),
    }
    if short.any():
        out["urgency.short_false_critical"] = float(np.mean(predicted[short] == 0))
    return {f"{prefix}.{k}": v for k, v in out.items()}


def unwarranted_labels(examples: list[Example], pred: dict[str, list], ids: list[str], prefix: str,
                       ) -> dict[str, float]:
    """How often each issue type is given to texts whose gold labels lack it (``issue.<label>.false_share``,
    over the texts without it) and the share of texts given any label they lack (``issue.any_false_share``).
    Why: on a contrast set such as threats without a hazard, gold has no `safety_hazard`, so its precision
    is 0 and its recall undefined whatever the model does; the false share is the figure that moves."""
    if not examples:
        return {}
    gold = [set(e.issue_types) for e in examples]
    given = [set(p) for p in pred["issue_types"]]
    out = {"issue.any_false_share": float(np.mean([bool(p - g) for g, p in zip(gold, given, strict=True)]))}
    for label in ids:
        without = [label in p for g, p in zip(gold, given, strict=True) if label not in g]
        if without:
            out[f"issue.{label}.false_share"] = float(np.mean(without))
    return {f"{prefix}.{k}": v for k, v in out.items()}


def scored_metrics(examples: list[Example], pred: dict[str, list], taxonomy, prefix: str) -> dict[str, float]:
    """The heads' figures and the urgency operating point (how many texts become P1) of one set of predictions:
    what `feedback train` logs, the gate compares and `feedback evaluate` prints, so the three agree."""
    return {**metrics_from_predictions(examples, pred, taxonomy, prefix),
            **operating_point(examples, pred, taxonomy.urgency_ids, prefix)}


def evaluate(model: FeedbackAnalyzerModel, examples: list[Example], prefix: str = "test") -> dict[str, float]:
    return scored_metrics(examples, predict_labels(model, examples), model.taxonomy, prefix)


def confusion_images(taxonomy, examples: list[Example], pred: dict[str, list], out_dir: Path) -> list[Path]:
    """One PNG confusion matrix per single-label head, and per-label TP/FN/FP/TN counts for issue types,
    from predictions already made (``predict_labels``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tax = taxonomy
    paths = []
    for head, labels, truth in (
        ("sentiment", tax.sentiment_ids, [e.sentiment for e in examples]),
        ("urgency", tax.urgency_ids, [e.urgency for e in examples]),
    ):
        cm = confusion(truth, pred[head], labels)
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=9)
        ax.set_title(f"{head} (n={len(examples)})")
        fig.tight_layout()
        path = out_dir / f"confusion_{head}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    ids = tax.issue_type_ids
    Y = binarize([list(e.issue_types) for e in examples], ids)
    P = binarize(pred["issue_types"], ids)
    grid = np.array([[((Y[:, j] == a) & (P[:, j] == b)).sum() for a, b in ((1, 1), (1, 0), (0, 1), (0, 0))]
                     for j in range(len(ids))])
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(grid, cmap="Blues", aspect="auto")
    ax.set_xticks(range(4), ["TP", "FN", "FP", "TN"])
    ax.set_yticks(range(len(ids)), ids)
    for i in range(len(ids)):
        for j in range(4):
            ax.text(j, i, int(grid[i, j]), ha="center", va="center", fontsize=8)
    ax.set_title(f"issue types per label (n={len(examples)})")
    fig.tight_layout()
    path = out_dir / "confusion_issue_types.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths
