"""Analyzers: text → probabilities of every head, plus the tuned decision thresholds.

Two backends share one interface (``fit``, ``tune``, ``predict_outputs``, ``predict``, ``save``,
``load``) so training, evaluation and the pyfunc wrapper never care which one they hold:
- ``FeedbackAnalyzer``: linear heads over one shared TF-IDF featurizer (the fast default);
- ``models.transformer.TransformerAnalyzer``: a fine-tuned Hugging Face sequence classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

from models.featurizers import Featurizer, make_featurizer
from models.heads import HINGE_C, SOLVER, MultiLabelHead, SoftmaxHead, StackedLinearHeads, tune_thresholds
from models.keywords import linear_keywords, taxonomy_keywords
from models.stacking import CueFlags, HeadStacker, text_lengths
from models.taxonomy import Taxonomy

# F-beta per "level or more urgent" when tuning urgency cuts (critical, high, medium): recall of the
# urgent levels weighs more than precision, because missing a safety incident is the worst error. It is
# an operating point (`FEEDBACK_URGENCY_BETAS`), chosen to keep the share of P1 tickets where operators
# already had it (~11 %) and catch as many critical texts as that buys. Repeated 2-fold CV on out-of-fold
# predictions for the 12,907 real train+val texts of rounds 1–5, policy cues included (β_critical →
# critical texts caught, share of all texts P1): 4 → 84 %, 5 %; 5 → 85 %, 7 %; 6 → 89 %, 11 %;
# 8 → 93 %, 16 %. README "Models".
URGENCY_BETAS = (6.0, 3.0, 1.0)

# Share of texts made critical (after the escalation rules) that sets the critical cut
# (`FEEDBACK_URGENCY_CRITICAL_SHARE`; None = F-beta with URGENCY_BETAS[0]). Nested 5-fold CV on the real dev
# texts (benchmarks/critical_cut.py, 2026-12-07): at 10 % it served 9.5 % of texts P1 and caught 0.896 of
# critical texts, where F-beta served 9.2 % and caught 0.910 (one text of 67); its cut varied by ±0.011 across
# the outer folds against F-beta's ±0.035.
URGENCY_CRITICAL_SHARE = 0.10

# Share of texts made high or critical (P1 + P2, after the escalation rules) that sets the high-or-above cut
# (`FEEDBACK_URGENCY_HIGH_SHARE`; None = F-beta with URGENCY_BETAS[1]), for teams that budget P2 tickets too.
# Off by default because, unlike the critical cut's, this F-beta is not flat: nested 5-fold CV on the real dev
# texts (benchmarks/critical_cut.py, 2026-12-07) put its cut at 0.364 ± 0.008 across the outer folds (high+
# recall 0.934, 19.7 % of texts high+), and shares of 18 / 20 / 22 % varied as much (± 0.014 / 0.010 / 0.012)
# for high+ recall 0.898 / 0.927 / 0.941.
URGENCY_HIGH_SHARE: float | None = None
# Issue types the second stage decides without the urgency head's output (models.stacking: threats that made
# a text critical read as safety_hazard while it read P(critical))
URGENCY_BLIND_LABELS: tuple[str, ...] = ("safety_hazard",)
# ... and without these cues of the taxonomy: a threat says how urgent a text is, not what went wrong (guideline:
# 再不给我退款我就打12315投诉 is `return_refund`). Learning from the authored texts too, where threats often come with
# a hazard, the stage weighed the threat cues +0.66 / +0.70 for `safety_hazard` (2026-12-08)
URGENCY_BLIND_CUES: tuple[str, ...] = ("legal_threat", "media_threat")

# Position of each urgency level on a 0..1 scale, most urgent = 1. Used for the urgency score.
URGENCY_SCALE = {"critical": 1.0, "high": 2 / 3, "medium": 1 / 3, "low": 0.0}


@dataclass
class HeadOutputs:
    """Raw per-text outputs of the heads, columns in taxonomy order."""

    issue_proba: np.ndarray  # (n, n_issue_types)
    issue_thresholds: np.ndarray  # (n_issue_types,)
    sentiment_proba: np.ndarray  # (n, 3)
    urgency_proba: np.ndarray  # (n, 4)
    urgency_cuts: np.ndarray | None = None  # cumulative-probability cut per level except the last
    keywords: list[list[str]] | None = None  # per text: the words that drove the predicted issue types

    def urgency_levels(self, levels: list[str]) -> list[str]:
        return [levels[k] for k in urgency_level_indices(self.urgency_proba, self.urgency_cuts)]


def binarize(label_sets: list[list[str]], labels: list[str]) -> np.ndarray:
    """Label sets → 0/1 matrix with one column per label, in ``labels`` order."""
    Y = np.zeros((len(label_sets), len(labels)), dtype=int)
    for i, label_set in enumerate(label_sets):
        for lab in label_set:
            Y[i, labels.index(lab)] = 1
    return Y


def urgency_level(proba_row: np.ndarray, cuts: np.ndarray | None, levels: list[str]) -> str:
    """Ordinal decision: the most urgent level whose cumulative probability P(level or more urgent)
    reaches its cut; cuts are tuned on validation so that missing a critical text is rare.
    Without cuts, the arg-max level."""
    if cuts is None:
        return levels[int(np.argmax(proba_row))]
    cumulative = np.cumsum(proba_row)
    for k, cut in enumerate(cuts):
        if cumulative[k] >= cut:
            return levels[k]
    return levels[-1]


def urgency_level_indices(proba: np.ndarray, cuts: np.ndarray | None) -> np.ndarray:
    """:func:`urgency_level` for every row at once, as level indices (0 = most urgent)."""
    proba = np.asarray(proba, dtype=float).reshape(-1, proba.shape[-1] if np.ndim(proba) else 1)
    if cuts is None:
        return proba.argmax(axis=1)
    cumulative = np.cumsum(proba, axis=1)
    out = np.full(len(proba), len(cuts), dtype=np.int64)
    for k in range(len(cuts) - 1, -1, -1):  # the most urgent level that reaches its cut wins
        out = np.where(cumulative[:, k] >= cuts[k], k, out)
    return out


class AnalyzerBase:
    """What every backend shares: thresholds, tuning, label decoding."""

    backend = "base"
    stacking_urgency_texts = "real"  # what models saved before the setting existed did
    stacking_issue_texts = "real"
    urgency_critical_share: float | None = None  # likewise: F-beta
    urgency_high_share: float | None = None  # likewise: F-beta

    def __init__(self, taxonomy: Taxonomy, seed: int = 42):
        self.taxonomy = taxonomy
        self.seed = seed
        self.issue_thresholds = np.full(len(taxonomy.issue_type_ids), 0.5)
        self.urgency_cuts: np.ndarray | None = None
        self.urgency_betas: tuple[float, ...] = URGENCY_BETAS  # the operating point the cuts are tuned for
        self.urgency_critical_share: float | None = None  # or the share of texts made critical (tune_urgency_cuts)
        self.urgency_high_share: float | None = None  # or the share made high or critical
        self.stacker: HeadStacker | None = None  # second stage, fitted on out-of-fold outputs (fit_and_tune)
        self.stacking_cues = True  # the second stage also reads the taxonomy's cues (models.stacking.CueFlags)
        self.stacking_length = True  # its urgency also reads the text's length (models.stacking.HeadStacker)
        self.stacking_urgency_texts = "real"  # or "all": its urgency learns from authored texts too (training.train)
        self.stacking_issue_texts = "real"  # the same for its issue types
        # issue types its stage decides without the urgency head (models.stacking; none before 2026-12-07)
        self.stacking_urgency_blind_labels: tuple[str, ...] = URGENCY_BLIND_LABELS
        self.stacking_urgency_blind_cues: tuple[str, ...] = URGENCY_BLIND_CUES  # cues those types do not read

    def head_probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(issue, sentiment, urgency) probabilities, columns in taxonomy order."""
        raise NotImplementedError

    def predict_outputs(self, texts: list[str], explain: bool = False) -> HeadOutputs:
        """Head probabilities and decision thresholds; with ``explain``, also the keywords per text."""
        texts = list(texts)
        issue, sentiment, urgency = self.head_probabilities(texts)
        out = self._outputs(issue, sentiment, urgency, texts)
        if explain:
            out.keywords = taxonomy_keywords(texts, self.predicted_issue_indices(out), self.taxonomy)
        return out

    def stack(self, issue: np.ndarray, sentiment: np.ndarray, urgency: np.ndarray,
              texts: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probabilities after the second stage (:mod:`models.stacking`); the heads' own without one
        (val-split tuning, stacking switched off, models saved before it existed). ``texts`` (the texts
        of these rows) are needed by a stage that reads cues or lengths."""
        stacker = getattr(self, "stacker", None)
        if stacker is None:
            return issue, sentiment, urgency
        if not stacker.reads_texts:
            return stacker.predict_proba(issue, sentiment, urgency)
        if texts is None:
            raise ValueError("this model's second stage reads the texts (cues, lengths): stack() needs them")
        return stacker.predict_proba(issue, sentiment, urgency, *stacker.text_inputs(list(texts)))

    def stage_cue_flags(self, texts: list[str]) -> np.ndarray | None:
        """The cue features a new second stage of this model reads (None when it reads none)."""
        if not getattr(self, "stacking_cues", False) or not self.taxonomy.cues:
            return None
        return CueFlags(self.taxonomy.cues)(list(texts))

    def stage_text_lengths(self, texts: list[str]) -> np.ndarray | None:
        """The lengths a new second stage of this model reads (None when it reads none)."""
        return text_lengths(list(texts)) if getattr(self, "stacking_length", False) else None

    def urgency_blind_columns(self) -> list[int]:
        """Columns of the issue types a new second stage fits without the urgency head's output; ids the
        taxonomy lacks are skipped (a custom taxonomy without `safety_hazard` keeps the default setting)."""
        ids = self.taxonomy.issue_type_ids
        return [ids.index(label) for label in getattr(self, "stacking_urgency_blind_labels", ()) if label in ids]

    def urgency_blind_cue_columns(self) -> list[int]:
        """Positions, among the taxonomy's cues, of the cues those issue types are fitted without; names the
        taxonomy lacks are skipped, as above."""
        names = list(self.taxonomy.cues)
        return [names.index(cue) for cue in getattr(self, "stacking_urgency_blind_cues", ()) if cue in names]

    def new_stacker(self, issue: np.ndarray, sentiment: np.ndarray, urgency: np.ndarray, issue_labels: list[list[str]],
                    sentiment_labels: list[str], urgency_labels: list[str],
                    cue_flags: np.ndarray | None = None, lengths: np.ndarray | None = None,
                    rows: dict[str, np.ndarray] | None = None) -> HeadStacker:
        """A second stage fitted on head outputs for texts the heads did not train on (out-of-fold);
        with ``cue_flags`` (:meth:`stage_cue_flags` of the same texts) it also reads the taxonomy's cues,
        with ``lengths`` (:meth:`stage_text_lengths`) the texts' lengths. ``rows`` maps "issue", "sentiment"
        or "urgency" to a 0/1 mask that limits what that part learns from; a part not named learns from every
        row."""
        tax = self.taxonomy
        return HeadStacker(tax.sentiment_ids, cues=tax.cues if cue_flags is not None else None,
                           length=lengths is not None,
                           urgency_blind=self.urgency_blind_columns(),
                           urgency_blind_cues=self.urgency_blind_cue_columns() if cue_flags is not None else ()).fit(
            issue, sentiment, urgency, self.binarize(issue_labels),
            np.array([tax.sentiment_ids.index(s) for s in sentiment_labels], dtype=int),
            np.array([tax.urgency_ids.index(u) for u in urgency_labels], dtype=int), cue_flags, lengths,
            **{f"{name}_rows": mask for name, mask in (rows or {}).items()})

    def _outputs(self, issue: np.ndarray, sentiment: np.ndarray, urgency: np.ndarray,
                 texts: list[str] | None = None) -> HeadOutputs:
        issue, sentiment, urgency = self.stack(issue, sentiment, urgency, texts)
        return HeadOutputs(
            issue_proba=issue,
            issue_thresholds=self.issue_thresholds.copy(),
            sentiment_proba=sentiment,
            urgency_proba=urgency,
            urgency_cuts=None if self.urgency_cuts is None else self.urgency_cuts.copy(),
        )

    @staticmethod
    def predicted_issue_indices(out: HeadOutputs) -> list[list[int]]:
        above = np.asarray(out.issue_proba) >= out.issue_thresholds
        cols = np.nonzero(above)[1]
        return [c.tolist() for c in np.split(cols, np.cumsum(above.sum(axis=1))[:-1])] if len(above) else []

    def tune(self, texts: list[str], issue_labels: list[list[str]], urgency_labels: list[str] | None = None) -> None:
        """Per-label issue thresholds and ordinal urgency cuts, both on the same validation texts."""
        texts = list(texts)
        issue, sentiment, urgency = self.stack(*self.head_probabilities(texts), texts)
        self._set_issue_thresholds(issue, issue_labels)
        if urgency_labels:
            self._set_urgency_cuts(urgency, urgency_labels, issue, sentiment, texts)

    def tune_issue_thresholds(self, texts: list[str], issue_labels: list[list[str]]) -> None:
        texts = list(texts)
        self._set_issue_thresholds(self.stack(*self.head_probabilities(texts), texts)[0], issue_labels)

    def tune_urgency(self, texts: list[str], urgency_labels: list[str]) -> None:
        texts = list(texts)
        issue, sentiment, urgency = self.stack(*self.head_probabilities(texts), texts)
        self._set_urgency_cuts(urgency, urgency_labels, issue, sentiment, texts)

    def tune_from_probabilities(self, issue_proba: np.ndarray, issue_labels: list[list[str]],
                                urgency_proba: np.ndarray, urgency_labels: list[str],
                                sentiment_proba: np.ndarray | None = None, texts: list[str] | None = None) -> None:
        """Thresholds and cuts from probabilities computed elsewhere (e.g. out-of-fold predictions).
        Labels and levels absent from the gold labels keep their current threshold or cut. With
        ``sentiment_proba`` and ``texts`` of the same rows, a share of critical texts
        (``urgency_critical_share``) is counted after the escalation rules, as operators receive them."""
        self._set_issue_thresholds(issue_proba, issue_labels)
        self._set_urgency_cuts(urgency_proba, urgency_labels, issue_proba, sentiment_proba, texts)

    def _set_issue_thresholds(self, issue_proba: np.ndarray, issue_labels: list[list[str]]) -> None:
        self.issue_thresholds = tune_thresholds(issue_proba, self.binarize(issue_labels), self.issue_thresholds)

    def served_level_table(self, issue_proba: np.ndarray, sentiment_proba: np.ndarray, texts: list[str],
                           policy=None) -> np.ndarray:
        """The escalation policy's urgency for each text and model level (:meth:`PriorityPolicy.served_level_table`),
        with the issue types and sentiment this model predicts from these probabilities; ``policy`` defaults to
        this model's taxonomy's."""
        from models.policy import PriorityPolicy

        ids, sentiments = self.taxonomy.issue_type_ids, self.taxonomy.sentiment_ids
        above = np.asarray(issue_proba) >= self.issue_thresholds
        labels = [[ids[j] for j in np.flatnonzero(row)] for row in above]
        return (policy or PriorityPolicy(self.taxonomy)).served_level_table(
            list(texts), labels, [sentiments[i] for i in np.asarray(sentiment_proba).argmax(axis=1)])

    def _set_urgency_cuts(self, urgency_proba: np.ndarray, urgency_labels: list[str],
                          issue_proba: np.ndarray | None = None, sentiment_proba: np.ndarray | None = None,
                          texts: list[str] | None = None) -> None:
        betas = tuple(getattr(self, "urgency_betas", URGENCY_BETAS))
        share = getattr(self, "urgency_critical_share", None) or None
        high_share = getattr(self, "urgency_high_share", None) or None
        served = None
        if (share is not None or high_share is not None) and issue_proba is not None and sentiment_proba is not None \
                and texts is not None:
            served = self.served_level_table(issue_proba, sentiment_proba, texts)
        self.urgency_cuts = tune_urgency_cuts(urgency_proba, urgency_labels, self.taxonomy.urgency_ids, betas,
                                              self.urgency_cuts, critical_share=share, served=served,
                                              high_share=high_share)

    def binarize(self, label_sets: list[list[str]]) -> np.ndarray:
        return binarize(label_sets, self.taxonomy.issue_type_ids)

    def predict(self, texts: list[str]) -> dict[str, list]:
        """Plain labels per head (before the escalation policy): issue label sets, sentiment, urgency."""
        out = self.predict_outputs(texts)
        ids = self.taxonomy.issue_type_ids
        issues = [[ids[j] for j in np.flatnonzero(row >= out.issue_thresholds)] for row in out.issue_proba]
        sent = [self.taxonomy.sentiment_ids[i] for i in out.sentiment_proba.argmax(1)]
        return {"issue_types": issues, "sentiment": sent, "urgency": out.urgency_levels(self.taxonomy.urgency_ids)}

    @staticmethod
    def urgency_score(proba_row: np.ndarray, levels: list[str]) -> float:
        return float(sum(p * URGENCY_SCALE[lv] for p, lv in zip(proba_row, levels, strict=True)))

    def params(self) -> dict[str, object]:
        """Hyper-parameters worth logging."""
        stacker = getattr(self, "stacker", None)
        return {"backend": self.backend, "seed": self.seed, "stacking": stacker is not None,
                "stacking_cues": stacker is not None and stacker.uses_cues,
                "stacking_length": stacker is not None and stacker.uses_length,
                "stacking_urgency_texts": self.stacking_urgency_texts if stacker is not None else "",
                "stacking_issue_texts": self.stacking_issue_texts if stacker is not None else "",
                "stacking_urgency_blind_labels": ",".join(self.taxonomy.issue_type_ids[j] for j in stacker.urgency_blind)
                if stacker is not None else "",
                "stacking_urgency_blind_cues": ",".join(stacker.blind_cue_names()) if stacker is not None else "",
                "urgency_critical_share": getattr(self, "urgency_critical_share", None) or 0.0,
                "urgency_high_share": getattr(self, "urgency_high_share", None) or 0.0}


class FeedbackAnalyzer(AnalyzerBase):
    """Linear heads over one shared featurizer. Featurising once and scoring all heads on the same
    matrix is what makes batch scoring fast."""

    backend = "tfidf"
    artifact_name = "analyzer.joblib"

    def __init__(self, taxonomy: Taxonomy, featurizer: str = "tfidf", seed: int = 42, C: float = 4.0,
                 solver: str = SOLVER, issue_loss: str = "hinge", issue_C: float | None = None):
        super().__init__(taxonomy, seed)
        self.featurizer_name = featurizer
        self.C = C
        self.featurizer: Featurizer = make_featurizer(featurizer)
        if issue_C is None:
            issue_C = HINGE_C if issue_loss == "hinge" else C
        self.issue_head = MultiLabelHead(taxonomy.issue_type_ids, C=issue_C, seed=seed, solver=solver,
                                         loss=issue_loss)
        self.sentiment_head = SoftmaxHead(taxonomy.sentiment_ids, C=C, seed=seed, solver=solver)
        self.urgency_head = SoftmaxHead(taxonomy.urgency_ids, C=C, seed=seed, solver=solver)

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
        labelled texts (``sentiment_texts`` carries its own labels and weights)."""
        self.featurizer.fit(list(issue_texts) + list(sentiment_texts))
        X = self.featurizer.transform(list(issue_texts))
        self.issue_head.fit(X, self.binarize(issue_labels))
        self.urgency_head.fit(X, list(urgency_labels))
        Xs = self.featurizer.transform(list(sentiment_texts))
        self.sentiment_head.fit(Xs, list(sentiment_labels), sample_weight=sentiment_weights)
        self.__dict__.pop("_stacked_heads", None)  # derived from the heads: rebuild on next use
        self.__dict__.pop("_word_weights_cache", None)
        self.stacker = None  # it read the previous heads' outputs
        return self

    def head_probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        texts = list(texts)
        return self._text_probabilities(texts, self.featurizer.transform(texts))

    def _text_probabilities(self, texts: list[str], X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probabilities of ``texts`` whose features are ``X``; a subclass may add evidence from the text."""
        return self._probabilities(X)

    def _probabilities(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stacked = self.__dict__.get("_stacked_heads")
        if stacked is None:
            stacked = self.__dict__["_stacked_heads"] = StackedLinearHeads(
                self.issue_head, [self.sentiment_head, self.urgency_head])
        issue, sentiment, urgency = stacked.predict_proba(X)
        return issue, sentiment, urgency

    def predict_outputs(self, texts: list[str], explain: bool = False) -> HeadOutputs:
        """Featurises once for all heads and, with ``explain``, for the keyword attributions."""
        texts = list(texts)
        with_tokens = getattr(self.featurizer, "transform_with_tokens", None)
        if explain and with_tokens is not None:
            X, tokens = with_tokens(texts)
        else:
            X, tokens = self.featurizer.transform(texts), None
        out = self._outputs(*self._text_probabilities(texts, X), texts)
        if explain:
            n_features = getattr(self.featurizer, "n_features", None)
            if n_features is None or tokens is None:
                out.keywords = taxonomy_keywords(texts, self.predicted_issue_indices(out), self.taxonomy)
            else:
                out.keywords = linear_keywords(tokens, X, self._word_weights(n_features),
                                               self.predicted_issue_indices(out), n_features)
        return out

    def _word_weights(self, n_features: int) -> np.ndarray:
        """(n_labels, n_features) issue-head coefficients over the word block; cached, not saved."""
        cached = self.__dict__.get("_word_weights_cache")
        if cached is None:
            cached = np.zeros((len(self.issue_head.labels), n_features), dtype=np.float32)
            for j, label in enumerate(self.issue_head.labels):
                clf = self.issue_head.estimators.get(label)
                if clf is not None:
                    cached[j] = clf.coef_[0, :n_features]
            self.__dict__["_word_weights_cache"] = cached
        return cached

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_word_weights_cache", None)
        state.pop("_stacked_heads", None)
        return state

    def params(self) -> dict[str, object]:
        head = self.issue_head
        return {**super().params(), "featurizer": self.featurizer_name, "C": self.C,
                "issue_loss": getattr(head, "loss", "logistic"), "issue_C": head.C}

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


def load_analyzer(path: Path) -> AnalyzerBase:
    """A saved analyzer of either backend: a directory is a transformer, a file the linear model."""
    path = Path(path)
    if path.is_dir():
        from models.transformer import TransformerAnalyzer

        return TransformerAnalyzer.load(path)
    return FeedbackAnalyzer.load(path)


def tune_urgency_cuts(proba: np.ndarray, gold: list[str], levels: list[str], betas: tuple[float, ...],
                      default: np.ndarray | None = None, critical_share: float | None = None,
                      served: np.ndarray | None = None, high_share: float | None = None) -> np.ndarray:
    """Choose cuts level by level, most urgent first, maximising F-beta of "this level or more urgent"
    on validation. A beta above 1 weighs recall over precision: missing a critical text is the worst
    error, flooding agents with false P1s the second worst. A level with no text at or above it in
    ``gold`` keeps its ``default`` cut (0.5 without one), as labels do in :func:`tune_thresholds`.

    With ``critical_share`` the critical cut is instead the highest that makes at least that share of the
    texts critical; ``served`` ((texts, levels), :meth:`models.policy.PriorityPolicy.served_level_table`)
    counts that share after the escalation rules, i.e. in the tickets operators receive. Why: the F-beta of
    the critical cut is flat over a wide range (0.45-0.47 for cuts 0.20-0.46 of P(critical) in v3), so its
    arg-max moved with noise: across the outer folds of nested CV its cut varied by ±0.035 where a share's
    varied by ±0.012, at the same recall for the same share (benchmarks/critical_cut.py, README "Models").
    F-beta on the served decision instead was no remedy: with the rules catching the explicit critical
    texts it flagged 1 % of texts and caught 0.776 of critical texts against 0.910.

    ``high_share`` does the same for the high-or-above cut: the highest cut that makes at least that share of
    the texts high or critical (P1 or P2), for teams that budget P2 tickets. Counted after the rules, it is
    searched again once the medium cut is final, because a rule that raises a level by one (anger) turns medium
    into high. Off by default: that F-beta's arg-max is stable (:data:`URGENCY_HIGH_SHARE`)."""
    rank = {lv: i for i, lv in enumerate(levels)}
    g = np.array([rank[x] for x in gold])
    cumulative = np.cumsum(proba, axis=1)
    grid = np.linspace(0.02, 0.98, 49)
    cuts = np.full(len(levels) - 1, 0.5) if default is None else np.array(default, dtype=float).copy()
    rows = np.arange(len(g))

    def decide(cs: np.ndarray) -> np.ndarray:
        out = np.full(len(g), len(levels) - 1)
        for k in range(len(cs) - 1, -1, -1):
            out = np.where(cumulative[:, k] >= cs[k], k, out)
        return out

    def share_cut(k: int, share: float) -> float:
        """The highest cut of level k that makes at least ``share`` of the texts level k or more urgent."""
        for cut in np.linspace(0.999, 0.001, 999):  # the flagged share grows as the cut falls
            trial = cuts.copy()
            trial[k] = cut
            levels_now = decide(trial) if served is None else served[rows, decide(trial)]
            if np.mean(levels_now <= k) >= share:
                break
        return float(cut)

    for k in range(len(levels) - 1):
        beta2 = (betas[k] if k < len(betas) else 1.0) ** 2
        positives = g <= k
        share = critical_share if k == 0 else high_share if k == 1 else None
        if share is not None and len(g):
            cuts[k] = share_cut(k, share)
            continue
        if not positives.any():
            continue
        best_cut, best_score = 0.5, -1.0
        for cut in grid:
            trial = cuts.copy()
            trial[k] = cut
            flagged = decide(trial) <= k
            tp = float(np.sum(flagged & positives))
            denom = (1 + beta2) * tp + beta2 * float(np.sum(positives & ~flagged)) + float(np.sum(flagged & ~positives))
            score = (1 + beta2) * tp / denom if denom else 0.0
            if score > best_score:
                best_cut, best_score = cut, score
        cuts[k] = best_cut
    if high_share is not None and len(g) and len(cuts) > 2 and served is not None:
        # rules that raise a level by one (anger: medium -> high) make the served high share depend on the
        # medium cut, which is only final now
        cuts[1] = share_cut(1, high_share)
    return cuts
