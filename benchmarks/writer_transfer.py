"""Experiment: do the authored reviews teach the model reviews, or one writer's way of writing them?

`data/corpus/authored_d.jsonl` was written by six writers, one batch of 200 ids each (authored:d:0001-0200
is the first writer, 0201-0400 the second, ...). `feedback cv` holds texts out at random, so every outer fold
still learns from the writer of the texts it scores. Here each writer's batch is held out whole: the model
is fitted as `feedback train` fits it (same settings, seed 42) on the corpus without that batch, and scores
it. The reference is a model fitted without any authored review, scored on the same batches: the gain of
"other writers' reviews" over "no reviews" is what reviews from an unseen source can expect.

Prints, per batch and pooled, issue micro-F1, sentiment accuracy, critical recall, the share of texts made P1
and the share of short medium/low texts made P1. Uses a temporary MLflow store; touches nothing in the repo.
About 7 fits of 1-2 minutes each on two cores.

`--file e` does the same for the negation contrast set `authored_e.jsonl` (three writers of 120 texts:
negated problem words in fine experiences, and negators whose problem is real), against a model fitted
without that file; `--file f` for the threat contrast set `authored_f.jsonl` (three writers of 100 texts:
threats over problems that are not safety incidents, threats with a real hazard, threat words without a
threat).

    .venv/bin/python benchmarks/writer_transfer.py [--file d|e|f] [--batches 1,2,3] [--seed 42]
"""

from __future__ import annotations

import argparse
import tempfile

FIGURES = (("issue.micro_f1", "issue micro-F1"), ("sentiment.accuracy", "sentiment"),
           ("urgency.accuracy", "urgency acc."),
           ("urgency.recall_critical", "critical recall"), ("urgency.share_critical", "texts P1"),
           ("urgency.short_false_critical", "short med/low P1"),
           # the share of texts without a gold safety_hazard given one: what the threat contrast set (--file f)
           # is about, since a threat makes a text critical but not a safety incident
           ("issue.safety_hazard.false_share", "safety_hazard without a hazard"),
           # and how many real hazards get the label (the shop reviews, --file d, hold ~50)
           ("issue.safety_hazard.recall", "safety_hazard recall"))


# authored file letter -> texts per writer (ids authored:<letter>:NNNN, numbered writer by writer)
BATCH_SIZES = {"d": 200, "e": 120, "f": 100}


def writer_of(example_id: str, letter: str = "d") -> int | None:
    """The writer batch (1, 2, ...) of an authored id ``authored:<letter>:NNNN``; None for any other text."""
    if not example_id.startswith(f"authored:{letter}:"):
        return None
    return (int(example_id.rsplit(":", 1)[1]) - 1) // BATCH_SIZES[letter] + 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default=None, help="writers to hold out (default: all of the file)")
    ap.add_argument("--file", default="d", choices=sorted(BATCH_SIZES),
                    help="d: the shop reviews (six writers), e: the negation contrast set, f: the threat contrast set "
                    "(three writers each)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from models.pyfunc import FeedbackAnalyzerModel
    from models.settings import Settings
    from models.taxonomy import load_taxonomy
    from training.crossval import held_out_corpus
    from training.dataset import load_corpus
    from training.evaluate import predict_labels, scored_metrics, unwarranted_labels
    from training.train import fit_configured

    console = Console(width=190)
    settings = Settings(tracking_uri=f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")
    tax = load_taxonomy(settings.taxonomy_path)
    corpus = load_corpus(settings.data_dir / "corpus", tax)
    letter = args.file
    found = sorted({w for e in corpus if (w := writer_of(e.id, letter)) is not None})
    batches = [int(b) for b in args.batches.split(",")] if args.batches else found
    members = {b: [e for e in corpus if writer_of(e.id, letter) == b] for b in batches}

    every_review = {e.id for e in corpus if writer_of(e.id, letter) is not None}
    console.print(f"fitting without any text of authored_{letter} ({len(every_review)} texts held out)")
    without = FeedbackAnalyzerModel(
        fit_configured(held_out_corpus(corpus, every_review), tax, settings, args.seed).analyzer, tax)

    def metrics_of(examples, pred) -> dict[str, float]:
        return {**scored_metrics(examples, pred, tax, "x"), **unwarranted_labels(examples, pred, tax.issue_type_ids, "x")}

    rows = []
    pooled_without, pooled_others = [], []
    for b in batches:
        held = members[b]
        console.print(f"writer {b}: fitting without its {len(held)} texts")
        others = FeedbackAnalyzerModel(
            fit_configured(held_out_corpus(corpus, {e.id for e in held}), tax, settings, args.seed).analyzer, tax)
        pred_without, pred_others = predict_labels(without, held), predict_labels(others, held)
        pooled_without.append((held, pred_without))
        pooled_others.append((held, pred_others))
        rows.append((f"writer {b} (n={len(held)})", metrics_of(held, pred_without), metrics_of(held, pred_others)))

    def pool(parts):
        examples = [e for held, _ in parts for e in held]
        pred = {h: [v for _, p in parts for v in p[h]] for h in ("issue_types", "sentiment", "urgency")}
        return metrics_of(examples, pred)

    rows.append((f"pooled (n={sum(len(members[b]) for b in batches)})", pool(pooled_without), pool(pooled_others)))
    table = Table(title=f"authored_{letter}, each writer held out: none of the file → the other writers' texts")
    table.add_column("batch")
    for _, name in FIGURES:
        table.add_column(name, justify="right")
    for name, before, after in rows:
        cells = []
        for key, _ in FIGURES:
            a, b = before.get(f"x.{key}"), after.get(f"x.{key}")
            cells.append("–" if a is None or b is None else f"{a:.3f} → {b:.3f}")
        table.add_row(name, *cells)
    console.print(table)
    print_contrast_kinds(console, tax, pooled_without, pooled_others)


def print_contrast_kinds(console, tax, pooled_without, pooled_others) -> None:
    """Per ``contrast`` kind of a contrast set (authored_e, authored_f), pooled over the writers: the share of
    texts made P1, critical recall and safety_hazard given without a hazard, none of the file → the others."""
    from rich.table import Table

    from training.evaluate import unwarranted_labels

    kinds = sorted({e.contrast for held, _ in pooled_without for e in held if e.contrast})
    if not kinds:
        return
    critical = tax.urgency_ids[0]

    def figures(parts, wanted):
        rows = [(e, p_urg, p_iss) for held, pred in parts
                for e, p_urg, p_iss in zip(held, pred["urgency"], pred["issue_types"], strict=True)
                if e.contrast == wanted]
        crit = [p == critical for e, p, _ in rows if e.urgency == critical]
        false_share = unwarranted_labels([e for e, _, _ in rows], {"issue_types": [i for _, _, i in rows]},
                                         tax.issue_type_ids, "k").get("k.issue.safety_hazard.false_share")
        return (len(rows), sum(p == critical for _, p, _ in rows) / max(1, len(rows)),
                f"{sum(crit)}/{len(crit)}" if crit else "–", false_share)

    table = Table(title="per contrast kind, pooled: none of the file → the other writers' texts")
    for col in ("kind", "texts", "texts P1", "critical caught", "safety_hazard without a hazard"):
        table.add_column(col, justify="right" if col != "kind" else "left")
    for wanted in kinds:
        n, p1_a, crit_a, fs_a = figures(pooled_without, wanted)
        _, p1_b, crit_b, fs_b = figures(pooled_others, wanted)
        fs = "–" if fs_a is None else f"{fs_a:.3f} → {fs_b:.3f}"
        table.add_row(wanted, str(n), f"{p1_a:.1%} → {p1_b:.1%}", f"{crit_a} → {crit_b}", fs)
    console.print(table)


if __name__ == "__main__":
    main()
