"""Evaluation of an analyzer on a split: the figures that gate promotion and fill the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.analyzer import FeedbackAnalyzer
from training.dataset import Example
from training.metrics import confusion, multiclass_metrics, multilabel_metrics, urgency_recall_at_or_above

# The metric that decides whether a new model may replace the champion (higher is better).
GATE_METRICS = ("issue.micro_f1", "sentiment.accuracy", "urgency.recall_high_or_above")


def evaluate(analyzer: FeedbackAnalyzer, examples: list[Example], prefix: str = "test") -> dict[str, float]:
    if not examples:
        return {}
    tax = analyzer.taxonomy
    texts = [e.text for e in examples]
    pred = analyzer.predict(texts)
    out: dict[str, float] = {}
    out.update(
        multilabel_metrics(
            analyzer.binarize([list(e.issue_types) for e in examples]),
            analyzer.binarize(pred["issue_types"]),
            tax.issue_type_ids,
            "issue",
        )
    )
    y_s = [e.sentiment for e in examples]
    out.update(multiclass_metrics(y_s, pred["sentiment"], tax.sentiment_ids, "sentiment"))
    polar = [i for i, y in enumerate(y_s) if y != "neutral"]
    if polar:
        out["sentiment.polar_accuracy"] = float(np.mean([pred["sentiment"][i] == y_s[i] for i in polar]))
    y_u = [e.urgency for e in examples]
    out.update(multiclass_metrics(y_u, pred["urgency"], tax.urgency_ids, "urgency"))
    levels = tax.urgency_ids
    out["urgency.recall_critical"] = urgency_recall_at_or_above(y_u, pred["urgency"], levels, levels[0])
    out["urgency.recall_high_or_above"] = urgency_recall_at_or_above(y_u, pred["urgency"], levels, levels[1])
    out["n_examples"] = float(len(examples))
    # undefined figures (e.g. critical recall on a split with no critical text) are left out, not NaN
    return {f"{prefix}.{k}": v for k, v in out.items() if v == v}


def confusion_images(analyzer: FeedbackAnalyzer, examples: list[Example], out_dir: Path) -> list[Path]:
    """One PNG confusion matrix per single-label head, and per-label 2x2 counts for issue types."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tax = analyzer.taxonomy
    pred = analyzer.predict([e.text for e in examples])
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
    Y = analyzer.binarize([list(e.issue_types) for e in examples])
    P = analyzer.binarize(pred["issue_types"])
    ids = tax.issue_type_ids
    grid = np.array([[((Y[:, j] == a) & (P[:, j] == b)).sum() for a in (1, 0) for b in (1, 0)] for j in range(len(ids))])
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(grid, cmap="Blues", aspect="auto")
    ax.set_xticks(range(4), ["TP", "FN", "FP", "TN"])
    ax.set_yticks(range(len(ids)), ids)
    for i in range(len(ids)):
        for j in range(4):
            ax.text(j, i, int(grid[i, j]), ha="center", va="center", fontsize=8)
    ax.set_title("issue types per label")
    fig.tight_layout()
    path = out_dir / "confusion_issue_types.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths
