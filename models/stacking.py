"""A second stage: each head decides from every head's output, not only its own.

Why: the first-stage heads see words, not the other heads' reading of the text.
- Issue types: 送货相当快 weighs towards `logistics` whatever follows it, so praise got issue types. On
  the test split 23 % of the false-positive labels were on texts whose gold sentiment is positive,
  though 93 % of positive dev texts have no issue type.
- Urgency: a `safety_hazard` or `return_refund` reading is evidence of urgency that the urgency head,
  trained on a few hundred urgent texts, only partly learnt from the same words.
- Sentiment: a text with issue types is rarely positive.

Per head, a small logistic regression over
- every issue logit (labels co-occur: 与描述不符 often comes with 商品质量),
- the log-probabilities of sentiment and urgency (not urgency for `safety_hazard`; see below),
- for issue types also each logit scaled by P(positive) and by P(negative), and one flag per taxonomy cue
  (not the threat cues for `safety_hazard`; see below),
so the stage learns that a logistics logit on a positive text means less than on a complaint.

It is fitted on out-of-fold predictions only: a head's in-sample outputs are overconfident and would
teach the stage to trust them. 5-fold CV on the 12,907 real dev texts, everything (stage, thresholds,
cuts) fitted on the other folds:
- issue micro-F1 0.678 → 0.687 (better in four folds, equal in the fifth), macro-F1 0.557 → 0.572,
  false-positive labels on positive texts 499 → 335. Sentiment alone (a threshold per predicted
  sentiment, damping by P(positive), or each label's own logit with the sentiment) moved micro-F1 by at
  most +0.001: the other labels' logits are what makes the sentiment usable;
- urgency at the same operating point (12 % of texts critical, 22 % high or above): critical recall
  0.612 → 0.776, high-or-above 0.892 → 0.922. Cuts must be tuned on cross-fitted stage outputs: tuned on
  its in-sample outputs, the stage's cuts caught 0.657;
- sentiment accuracy 0.831 → 0.837.

The issue labels also read the taxonomy's cues (:class:`CueFlags`, ``FEEDBACK_STACKING_CUES``). Same
nested CV (2026-12-06, labels before the rounds 4–5 adjudication): issue micro-F1 0.683 → 0.690 (better
in four folds of five), macro-F1 0.553 → 0.592 (better in all five), ``safety_hazard`` F1 0.198 → 0.598;
sentiment 0.838 and urgency (critical 0.925, high-or-above 0.939 at 13 % / 23 % of texts) unchanged.

`safety_hazard` no longer reads urgency (``urgency_blind``; ``FEEDBACK_STACKING_URGENCY_BLIND_LABELS``,
since 2026-12-07). Among the real dev texts the stage learns from, critical ones are nearly all safety
incidents, so `safety_hazard` weighed log P(critical) by +0.99 and every threat that made a text critical read
as a hazard: 再不给我退款我就打12315投诉 → `return_refund` + `safety_hazard`. Nested 5-fold CV (`feedback cv`,
outer seed 7), every issue type reading urgency → none:
- threats over problems that are not safety incidents (authored_f, 180) given `safety_hazard`: 27.8 % → 0 %;
  threat words without a threat (74): 4.1 % → 0 %;
- threats with a real hazard (45) keep `safety_hazard`: 43 → 38 (they stay critical: critical recall 1.000);
- real dev texts: `safety_hazard` F1 0.660 → 0.673 (recall 34 → 35 of 50), sentiment and critical recall
  unchanged; but other labels lost what urgency told them (`authenticity` F1 0.583 → 0.538, `return_refund`
  0.557 → 0.545; test split macro-F1 0.610 → 0.600), so only `safety_hazard` is blind to it. With
  `safety_hazard` alone blind the threats and `safety_hazard` fare as above and every other label is unchanged:
  real macro-F1 0.6106 → 0.6117, micro-F1 0.6931 → 0.6932.
Letting the issue labels learn from the authored texts instead (``FEEDBACK_STACKING_ISSUE_TEXTS``) also
removed those labels (1–2 %), but cost real `safety_hazard` F1 0.660 → 0.568/0.571 (all / contrast sets).

Since 2026-12-08 the issue labels do learn from every dev text (``all``). The harm pass of guideline R14 made the
real `safety_hazard` labels consistent (bites, itching, symptoms from fumes, pests on food served), and the
safety cue now names that harm. Nested CV on the relabelled dev texts (outer seed 7), old cue → new cue →
new cue learning from all texts:
- real `safety_hazard` F1 0.673 → 0.797 → 0.722 (recall 36 → 45 → 39 of 51), issue micro-F1 0.6934 → 0.6948 →
  0.6974, macro-F1 0.6120 → 0.6224 → 0.6166, critical recall 0.928 → 0.957 → 0.957, sentiment unchanged;
- authored `safety_hazard` recall 0.868 → **0.682** → 0.949 (of 311), authored issue micro-F1 0.798 → 0.789 →
  0.828. With the new cue, a stage learning from real texts let the cue decide `safety_hazard` (its weight
  4.68 → 5.70, the first stage's logit 3.41 → 2.32, intercept 0.61 → -1.50), so hazards said without a cue
  word, as chat messages and shop reviews say them, were lost;
- each writer of the shop reviews held out whole (``benchmarks/writer_transfer.py --file d``, pooled over
  1,192 texts, real → all rows): issue micro-F1 0.816 → 0.833, `safety_hazard` recall 0.893 → 0.982 (of 56),
  given without a hazard 0.4 % → 1.8 %.
Learning from the authored texts, where threats mostly come with a hazard, `safety_hazard` weighed the threat cues
(+0.66 ``legal_threat``, +0.70 ``media_threat``), so it is decided without them too (``urgency_blind_cues``,
``FEEDBACK_STACKING_URGENCY_BLIND_CUES``): nested CV, plain threats given `safety_hazard` 0.6 % → 0 %, real
`safety_hazard` F1 0.722 → 0.726, every other real figure equal or higher.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from models.cues import as_cues, matching
from models.text import normalize

EPS = 1e-6  # probabilities clipped to [EPS, 1 - EPS] before logs: ±13.8, finite for a saturated head


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)
    return np.log(p / (1.0 - p))


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class CueFlags:
    """0/1 per text and cue: does the normalised text match the cue's regular expression?

    Why the stage reads them: a cue pools many rare words into one feature (烫伤, 过敏, 漏电, 起火 … all
    say "safety"), which the first-stage n-grams, each seen a few times, learn only weakly: real
    ``safety_hazard`` texts are ~0.4 % of the dev texts. The stage keeps the expressions it was fitted
    with, so a later edit of the taxonomy's cues changes the escalation rules, not this model's inputs."""

    def __init__(self, cues: dict[str, str | dict]):
        self.cues = dict(cues)

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.cues)))
        table = as_cues(self.cues)
        for i, text in enumerate(texts):
            out[i, list(matching(table, text))] = 1.0
        return out


def text_lengths(texts: list[str]) -> np.ndarray:
    """Characters of each normalised text (emoji, order and phone numbers, spaces removed), so a text and
    its decorated variants have the same length. The urgency stage reads its log (:class:`HeadStacker`)."""
    return np.array([len(normalize(t)) for t in texts], dtype=np.float64)


class HeadStacker:
    """``fit`` / ``predict_proba`` over the three heads' outputs, in scikit-learn's shape. A label or a
    head whose stacking data holds one class only keeps the first stage's probabilities unchanged.

    With ``cues`` (name → regular expression, the taxonomy's), the issue labels also read one 0/1 feature
    per cue (:class:`CueFlags`); ``fit`` and ``predict_proba`` then need ``cue_flags`` for the same texts.

    With ``length``, urgency also reads log(1 + characters) of the normalised text (:func:`text_lengths`;
    ``fit`` and ``predict_proba`` then need ``lengths``). Why: a short text the heads know little about
    (晚上拍照容易曝光过度, 这个杯子有点漏水) got P(critical) ≈ 0.1 from the balanced first-stage head, an
    unusual mix of log-probabilities that the balanced stage extrapolated to 0.6–0.9, above the P1 cut;
    6 % of short (< 20 characters) medium and low real texts became P1. Real critical texts are longer:
    none of 570 dev texts under 10 characters is critical, 0.2 % of those of 10–20, 0.8 % above 80.
    Nested 5-fold CV on the 12,907 real dev texts (outer folds refit heads, stage, thresholds and cuts;
    escalation rules applied; 2026-12-07), without → with the length:
    - critical recall 0.896 → 0.910 with 9.6 % → 9.2 % of texts P1; AUC of P(critical) 0.917 → 0.924;
    - high-or-above recall 0.909 → 0.927; short medium/low texts made P1 6.4 % → 2.8 %."""

    uses_length = False  # class default: stages pickled before the length existed read none
    urgency_blind: tuple[int, ...] = ()  # likewise: before 2026-12-07 every issue type read urgency
    urgency_blind_cues: tuple[int, ...] = ()  # and before 2026-12-08 they read every cue

    def __init__(self, sentiment_ids: list[str], C: float = 1.0, cues: dict[str, str] | None = None,
                 length: bool = False, urgency_blind: tuple[int, ...] | list[int] = (),
                 urgency_blind_cues: tuple[int, ...] | list[int] = ()):
        missing = {"positive", "negative"} - set(sentiment_ids)
        if missing:
            raise ValueError(f"stacking needs the sentiment classes {sorted(missing)}")
        self.positive = list(sentiment_ids).index("positive")
        self.negative = list(sentiment_ids).index("negative")
        self.C = C
        self.cue_flags = CueFlags(cues or {})
        self.uses_length = bool(length)
        self.urgency_blind = tuple(sorted({int(j) for j in urgency_blind}))  # issue columns fitted without urgency
        # positions among ``cues`` of the cues those columns are fitted without (threats: how urgent, not what)
        self.urgency_blind_cues = tuple(sorted({int(k) for k in urgency_blind_cues}))
        if any(not 0 <= k < len(self.cue_flags.cues) for k in self.urgency_blind_cues):
            raise ValueError(f"urgency_blind_cues {list(self.urgency_blind_cues)} are not positions among "
                             f"{len(self.cue_flags.cues)} cues")
        self.issue: dict[str, np.ndarray] | None = None  # coef (features, labels), intercept, fitted
        self.sentiment: dict[str, np.ndarray] | None = None  # coef (features, classes seen), intercept, slots
        self.urgency: dict[str, np.ndarray] | None = None
        self.is_fitted = False

    # ---- features ----------------------------------------------------------------------------
    @property
    def uses_cues(self) -> bool:
        return bool(getattr(self, "cue_flags", None) and self.cue_flags.cues)

    def blind_cue_names(self) -> list[str]:
        names = list(self.cue_flags.cues) if self.uses_cues else []
        return [names[k] for k in getattr(self, "urgency_blind_cues", ()) if k < len(names)]

    @property
    def reads_texts(self) -> bool:
        return self.uses_cues or self.uses_length

    def text_inputs(self, texts: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(cue_flags, lengths) of ``texts`` as this stage reads them, None for what it does not read."""
        return (self.cue_flags(texts) if self.uses_cues else None,
                text_lengths(texts) if self.uses_length else None)

    def _cues(self, n: int, cue_flags: np.ndarray | None) -> np.ndarray:
        if not self.uses_cues:
            return np.zeros((n, 0))
        if cue_flags is None:
            raise ValueError("this stage reads cue flags: pass cue_flags (HeadStacker.cue_flags(texts))")
        cue_flags = np.asarray(cue_flags, dtype=np.float64)
        if cue_flags.shape != (n, len(self.cue_flags.cues)):
            raise ValueError(f"cue_flags has shape {cue_flags.shape}, expected {(n, len(self.cue_flags.cues))}")
        return cue_flags

    def _lengths(self, n: int, lengths: np.ndarray | None) -> np.ndarray:
        if not self.uses_length:
            return np.zeros((n, 0))
        if lengths is None:
            raise ValueError("this stage reads text lengths: pass lengths (models.stacking.text_lengths(texts))")
        lengths = np.asarray(lengths, dtype=np.float64).reshape(-1)
        if lengths.shape != (n,):
            raise ValueError(f"lengths has shape {lengths.shape}, expected {(n,)}")
        return np.log1p(lengths)[:, None]

    def urgency_features(self, urgency, issue, sentiment, lengths=None) -> np.ndarray:
        return np.column_stack([self.class_features(urgency, issue, sentiment), self._lengths(len(urgency), lengths)])

    def issue_features(self, issue, sentiment, urgency, cue_flags=None) -> np.ndarray:
        logits, sentiment = _logit(issue), np.asarray(sentiment, dtype=np.float64)
        return np.column_stack([logits, _log(sentiment), _log(urgency), sentiment[:, [self.positive]] * logits,
                                sentiment[:, [self.negative]] * logits, self._cues(len(logits), cue_flags)])

    @staticmethod
    def class_features(own, issue, other) -> np.ndarray:
        """A softmax head's features: its own log-probabilities, the issue logits, the other head's.
        No cues: with them the urgency stage moved its tuned operating point from 13 % of texts critical
        (0.925 of critical texts caught) to 2 % (0.806) in 5-fold CV on the dev texts, a different
        product than the one operators run; sentiment did not change (0.838 both)."""
        return np.column_stack([_log(own), _logit(issue), _log(other)])

    # ---- fitting -----------------------------------------------------------------------------
    def fit(self, issue: np.ndarray, sentiment: np.ndarray, urgency: np.ndarray, Y_issue: np.ndarray,
            y_sentiment: np.ndarray, y_urgency: np.ndarray, cue_flags: np.ndarray | None = None,
            lengths: np.ndarray | None = None, issue_rows: np.ndarray | None = None,
            sentiment_rows: np.ndarray | None = None, urgency_rows: np.ndarray | None = None) -> HeadStacker:
        """``Y_issue`` is 0/1 per label; ``y_sentiment`` and ``y_urgency`` are class indices in the heads'
        column order. Urgency weighs its classes equally: critical texts are ~0.5 % of real text, and the
        cuts tuned afterwards set the operating point.

        ``issue_rows``, ``sentiment_rows`` and ``urgency_rows`` (0/1 masks over the rows; None = every row)
        limit what each part learns from: training fits them on the real texts or on the authored ones too
        (``FEEDBACK_STACKING_ISSUE_TEXTS``, ``FEEDBACK_STACKING_URGENCY_TEXTS``; see
        :func:`training.train.stack_out_of_fold` for why)."""
        n = len(issue)

        def part(mask: np.ndarray | None, name: str) -> np.ndarray:
            if mask is None:
                return np.arange(n)
            keep = np.asarray(mask, dtype=bool).reshape(-1)
            if keep.shape != (n,):
                raise ValueError(f"{name} has shape {keep.shape}, expected {(n,)}")
            return np.flatnonzero(keep)

        issue, sentiment, urgency = (np.asarray(a, dtype=np.float64) for a in (issue, sentiment, urgency))
        Y_issue, y_sentiment, y_urgency = np.asarray(Y_issue), np.asarray(y_sentiment), np.asarray(y_urgency)
        cue_flags = None if cue_flags is None else np.asarray(cue_flags)
        lengths = None if lengths is None else np.asarray(lengths).reshape(-1)
        u = part(urgency_rows, "urgency_rows")
        self.urgency = self._fit_softmax(self.urgency_features(
            urgency[u], issue[u], sentiment[u], None if lengths is None else lengths[u]), y_urgency[u], "balanced")
        i = part(issue_rows, "issue_rows")
        F = self.issue_features(issue[i], sentiment[i], urgency[i], None if cue_flags is None else cue_flags[i])
        n_labels = Y_issue.shape[1]
        coef, intercept, fitted = np.zeros((F.shape[1], n_labels)), np.zeros(n_labels), np.zeros(n_labels, bool)
        every = np.ones(F.shape[1], dtype=bool)
        blind_reads = every.copy()  # what a blind label reads: neither the urgency columns nor the blind cues
        start = issue.shape[1] + sentiment.shape[1]  # the urgency columns of issue_features
        blind_reads[start:start + urgency.shape[1]] = False
        cues_start = F.shape[1] - (len(self.cue_flags.cues) if self.uses_cues else 0)  # cue flags come last
        blind_reads[[cues_start + k for k in getattr(self, "urgency_blind_cues", ())]] = False
        for j in range(n_labels):
            y = Y_issue[i, j]
            if not len(y) or y.min() == y.max():
                continue
            # a blind label is fitted without the urgency columns and the blind cues; their weights stay 0
            used = blind_reads if j in self.urgency_blind else every
            # forty dense features: Newton on the Cholesky factor converges in ~10 steps (0.3 s for all
            # labels on 12,907 texts); L-BFGS stopped short of the optimum after 60 (7.7 s)
            clf = LogisticRegression(C=self.C, max_iter=1000, solver="newton-cholesky").fit(F[:, used], y)
            coef[used, j], intercept[j], fitted[j] = clf.coef_[0], clf.intercept_[0], True
        self.issue = {"coef": coef, "intercept": intercept, "fitted": fitted}
        s = part(sentiment_rows, "sentiment_rows")
        self.sentiment = self._fit_softmax(self.class_features(sentiment[s], issue[s], urgency[s]), y_sentiment[s],
                                           None)
        self.is_fitted = True
        return self

    def _fit_softmax(self, F: np.ndarray, y: np.ndarray, class_weight: str | None) -> dict[str, np.ndarray] | None:
        y = np.asarray(y)
        if len(np.unique(y)) < 2:
            return None
        # Newton on the Cholesky factor, as for the issue labels: the same optimum in 5–6 steps. L-BFGS took
        # 601 iterations for urgency (7.7 s against 0.19 s on 10k texts) and 271 for sentiment (3.3 s against
        # 0.13 s); six fits each made the stage 50 s of a 144 s `feedback train` (2026-12-07)
        clf = LogisticRegression(C=self.C, max_iter=3000, class_weight=class_weight,
                                 solver="newton-cholesky").fit(F, y)
        coef, intercept = clf.coef_.T, clf.intercept_
        if len(clf.classes_) == 2:  # binary: one logit column; as two softmax columns (−z/2, z/2)
            coef, intercept = np.column_stack([-coef[:, 0] / 2, coef[:, 0] / 2]), np.array([-intercept[0] / 2,
                                                                                           intercept[0] / 2])
        return {"coef": coef, "intercept": intercept, "slots": clf.classes_.astype(int)}

    # ---- prediction --------------------------------------------------------------------------
    def predict_proba(self, issue: np.ndarray, sentiment: np.ndarray, urgency: np.ndarray,
                      cue_flags: np.ndarray | None = None, lengths: np.ndarray | None = None,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.is_fitted or self.issue is None:
            raise RuntimeError("stacker is not fitted")
        issue, sentiment, urgency = (np.asarray(a, dtype=np.float64) for a in (issue, sentiment, urgency))
        if not len(issue):
            return issue.copy(), sentiment.copy(), urgency.copy()
        F = self.issue_features(issue, sentiment, urgency, cue_flags)
        stacked = _sigmoid(F @ self.issue["coef"] + self.issue["intercept"])
        return (np.where(self.issue["fitted"], stacked, issue),
                self._softmax(self.sentiment, self.class_features(sentiment, issue, urgency), sentiment),
                self._softmax(self.urgency, self.urgency_features(urgency, issue, sentiment, lengths), urgency))

    @staticmethod
    def _softmax(state: dict[str, np.ndarray] | None, F: np.ndarray, first_stage: np.ndarray) -> np.ndarray:
        if state is None:
            return first_stage
        z = F @ state["coef"] + state["intercept"]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        out = np.zeros_like(first_stage)
        out[:, state["slots"]] = e / e.sum(axis=1, keepdims=True)
        return out

    # ---- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        """Plain lists, for backends that save their state as JSON (the transformer)."""
        if not self.is_fitted:
            raise RuntimeError("stacker is not fitted")

        def plain(state):
            return None if state is None else {k: v.tolist() for k, v in state.items()}

        return {"positive": self.positive, "negative": self.negative, "C": self.C,
                "cues": dict(self.cue_flags.cues) if self.uses_cues else {},
                "length": self.uses_length, "urgency_blind": list(self.urgency_blind),
                "urgency_blind_cues": list(getattr(self, "urgency_blind_cues", ())), "issue": plain(self.issue),
                "sentiment": plain(self.sentiment), "urgency": plain(self.urgency)}

    @classmethod
    def from_dict(cls, state: dict) -> HeadStacker:
        obj = cls.__new__(cls)
        obj.positive, obj.negative, obj.C = int(state["positive"]), int(state["negative"]), float(state["C"])
        obj.cue_flags = CueFlags(state.get("cues") or {})
        obj.uses_length = bool(state.get("length", False))
        obj.urgency_blind = tuple(int(j) for j in state.get("urgency_blind", ()))
        obj.urgency_blind_cues = tuple(int(k) for k in state.get("urgency_blind_cues", ()))
        kinds = {"fitted": bool, "slots": int}

        def arrays(part):
            return None if part is None else {k: np.asarray(v, dtype=kinds.get(k, np.float64)) for k, v in part.items()}

        obj.issue, obj.sentiment, obj.urgency = (arrays(state[k]) for k in ("issue", "sentiment", "urgency"))
        obj.is_fitted = True
        return obj
