"""Out-of-fold threshold tuning: what it fits on, what it never reads, and that it is deterministic."""

import numpy as np
import pytest

from models.settings import REPO_ROOT
from models.stacking import text_lengths
from models.taxonomy import load_taxonomy
from tests.conftest import write_tiny_corpus
from training import train as train_module
from training.dataset import Example, load_corpus
from training.train import _fold_of, default_tuning_folds, fit_and_tune


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    data = tmp_path_factory.mktemp("tuning") / "data"
    write_tiny_corpus(data)
    tax = load_taxonomy(data / "taxonomy.yaml")
    return load_corpus(data / "corpus", tax), tax


def _spy(monkeypatch):
    """Record the texts every fitted model learns from and every text it is asked to score."""
    fitted, scored = [], []
    original = train_module.fit_analyzer

    def spy(train, *args, **kwargs):
        fitted.append({e.text for e in train})
        model = original(train, *args, **kwargs)
        probabilities = model.head_probabilities

        def recording(texts):
            scored.extend(texts)
            return probabilities(texts)

        model.head_probabilities = recording
        return model

    monkeypatch.setattr(train_module, "fit_analyzer", spy)
    return fitted, scored


def test_out_of_fold_tuning_never_reads_test_and_scores_each_dev_text_once(tiny, monkeypatch):
    corpus, tax = tiny
    fitted, scored = _spy(monkeypatch)
    result = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3)
    dev = [e for e in corpus if e.split in ("train", "val")]
    test_texts = {e.text for e in corpus if e.split == "test"}
    assert len(fitted) == 4  # three fold models and the final one
    assert fitted[-1] == {e.text for e in dev}  # the final model learns from train + val
    for k, fold_texts in enumerate(fitted[:3]):
        held = {e.text for e in dev if _fold_of(e, 3, 3) == k}
        assert held and not fold_texts & held  # a fold model never learns the texts it scores
    assert sorted(scored) == sorted(e.text for e in dev)
    assert not test_texts & set().union(*fitted) and not test_texts & set(scored)
    assert result.tuning == "3-fold out-of-fold" and result.cv_metrics["cv.n_examples"] > 0


def test_thresholds_come_from_out_of_fold_probabilities(tiny, monkeypatch):
    corpus, tax = tiny
    seen = {}
    original = train_module.FeedbackAnalyzer.tune_from_probabilities

    def capture(self, issue_proba, issue_labels, urgency_proba, urgency_labels, *rest):
        seen["issue"] = np.array(issue_proba)  # the last call: the real texts
        seen["texts"] = rest[1]
        return original(self, issue_proba, issue_labels, urgency_proba, urgency_labels, *rest)

    monkeypatch.setattr(train_module.FeedbackAnalyzer, "tune_from_probabilities", capture)
    result = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3)
    real_dev = [e for e in corpus if e.split in ("train", "val") and e.source == "real"]
    assert seen["issue"].shape == (len(real_dev), len(tax.issue_type_ids))
    assert sorted(seen["texts"]) == sorted(e.text for e in real_dev)  # the share is counted on the same texts
    # in-sample probabilities of the final model differ: the tuning did not use them
    in_sample = result.analyzer.head_probabilities([e.text for e in real_dev])[0]
    assert not np.allclose(in_sample, seen["issue"])


def test_same_seed_same_thresholds_and_val_split_mode_still_works(tiny):
    corpus, tax = tiny
    a = fit_and_tune(corpus, tax, seed=5, weak_sentiment=False, folds=3).analyzer
    b = fit_and_tune(corpus, tax, seed=5, weak_sentiment=False, folds=3).analyzer
    assert np.array_equal(a.issue_thresholds, b.issue_thresholds) and np.array_equal(a.urgency_cuts, b.urgency_cuts)
    legacy = fit_and_tune(corpus, tax, seed=5, weak_sentiment=False, folds=0)
    assert legacy.tuning == "val split" and legacy.cv_metrics == {}


def test_duplicates_share_a_fold_and_only_the_linear_backend_refits_by_default():
    a = Example("a:1", "东西坏了", "real", (), "low", "negative")
    b = Example("a:2", "東西壞了 ", "authored", (), "low", "negative")  # same text after normalisation
    assert all(_fold_of(a, k, s) == _fold_of(b, k, s) for k in (3, 5) for s in (1, 42))
    assert default_tuning_folds("tfidf") == 5
    assert default_tuning_folds("transformer") == default_tuning_folds("fused") == 0


def test_urgency_betas_set_the_operating_point(tiny):
    """A recall-heavy beta flags more texts as critical than a precision-heavy one; fit_and_tune
    hands the configured betas to the analyzer that tunes the cuts."""
    from models.analyzer import tune_urgency_cuts, urgency_level_indices

    corpus, tax = tiny
    assert fit_and_tune(corpus, tax, seed=5, weak_sentiment=False, folds=3,
                        urgency_betas=(8.0, 2.0, 1.0)).analyzer.urgency_betas == (8.0, 2.0, 1.0)
    rng = np.random.default_rng(0)
    gold = rng.choice(tax.urgency_ids, size=600, p=[0.05, 0.15, 0.3, 0.5])
    signal = np.array([[1.0 if g == lv else 0.0 for lv in tax.urgency_ids] for g in gold])
    proba = signal + rng.uniform(0, 1.5, size=signal.shape)  # a weak, noisy model
    proba /= proba.sum(axis=1, keepdims=True)
    flagged = {}
    for beta in (0.5, 8.0):
        cuts = tune_urgency_cuts(proba, list(gold), tax.urgency_ids, (beta, 1.0, 1.0))
        flagged[beta] = int(np.sum(urgency_level_indices(proba, cuts) == 0))
    assert flagged[8.0] > flagged[0.5]


def _noisy_urgency(tax, n=600, seed=0):
    rng = np.random.default_rng(seed)
    gold = rng.choice(tax.urgency_ids, size=n, p=[0.05, 0.15, 0.3, 0.5])
    signal = np.array([[1.0 if g == lv else 0.0 for lv in tax.urgency_ids] for g in gold])
    proba = signal + rng.uniform(0, 1.5, size=signal.shape)
    return list(gold), proba / proba.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("share", [0.05, 0.1, 0.2])
def test_critical_share_sets_the_share_of_texts_made_critical(tiny, share):
    from models.analyzer import tune_urgency_cuts, urgency_level_indices

    _corpus, tax = tiny
    gold, proba = _noisy_urgency(tax, n=2000)
    cuts = tune_urgency_cuts(proba, gold, tax.urgency_ids, (6.0, 1.0, 1.0), critical_share=share)
    flagged = np.mean(urgency_level_indices(proba, cuts) == 0)
    assert share <= flagged <= share + 0.005
    # counted after rules that already make 4 % of texts critical, the model's cut rises to keep the share
    rules = np.tile(np.arange(len(tax.urgency_ids)), (len(gold), 1))
    rules[:80] = 0
    served_cuts = tune_urgency_cuts(proba, gold, tax.urgency_ids, (6.0, 1.0, 1.0), served=rules,
                                    critical_share=share)
    levels = rules[np.arange(len(gold)), urgency_level_indices(proba, served_cuts)]
    assert share <= np.mean(levels == 0) <= share + 0.005
    assert served_cuts[0] >= cuts[0]


def test_the_critical_cut_makes_the_configured_share_of_tuning_texts_p1_after_the_rules(tiny):
    """fit_and_tune hands the share to the analyzer, which counts it on the out-of-fold texts it tunes on, with
    the escalation rules applied to the issue types and sentiment it predicts for them."""
    from models.analyzer import URGENCY_CRITICAL_SHARE, urgency_level_indices

    corpus, tax = tiny
    result = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, urgency_critical_share=0.2)
    analyzer, tuned = result.analyzer, result.tuned_on
    assert analyzer.urgency_critical_share == 0.2 and analyzer.params()["urgency_critical_share"] == 0.2
    table = analyzer.served_level_table(tuned.issue, tuned.sentiment, [e.text for e in tuned.examples])
    served = table[np.arange(len(table)), urgency_level_indices(tuned.urgency, analyzer.urgency_cuts)]
    assert 0.2 <= np.mean(served == 0) <= 0.2 + 2 / len(served)
    fbeta = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, urgency_critical_share=None).analyzer
    assert fbeta.urgency_critical_share is None and fbeta.params()["urgency_critical_share"] == 0.0
    assert fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3).analyzer.urgency_critical_share == (
        URGENCY_CRITICAL_SHARE)


@pytest.mark.parametrize("high_share", [0.2, 0.3])
def test_high_share_sets_the_share_of_texts_made_high_or_critical(tiny, high_share):
    """The high-or-above cut counts P1 and P2 together, after the critical cut and after the rules, and leaves the
    critical cut where the critical share put it."""
    from models.analyzer import tune_urgency_cuts, urgency_level_indices

    _corpus, tax = tiny
    gold, proba = _noisy_urgency(tax, n=2000, seed=1)
    alone = tune_urgency_cuts(proba, gold, tax.urgency_ids, (6.0, 3.0, 1.0), critical_share=0.1)
    cuts = tune_urgency_cuts(proba, gold, tax.urgency_ids, (6.0, 3.0, 1.0), critical_share=0.1,
                             high_share=high_share)
    assert cuts[0] == alone[0]
    levels = urgency_level_indices(proba, cuts)
    assert 0.1 <= np.mean(levels == 0) <= 0.105
    assert high_share <= np.mean(levels <= 1) <= high_share + 0.005
    rules = np.tile(np.arange(len(tax.urgency_ids)), (len(gold), 1))
    rules[:100, 1:3] = 1  # a rule that raises 5 % of texts to high unless the model says critical
    served_cuts = tune_urgency_cuts(proba, gold, tax.urgency_ids, (6.0, 3.0, 1.0), critical_share=0.1,
                                    high_share=high_share, served=rules)
    served = rules[np.arange(len(gold)), urgency_level_indices(proba, served_cuts)]
    assert high_share <= np.mean(served <= 1) <= high_share + 0.005
    assert served_cuts[1] >= cuts[1]


def test_the_high_share_reaches_the_analyzer_and_its_params(tiny):
    from models.analyzer import urgency_level_indices

    corpus, tax = tiny
    result = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, urgency_critical_share=0.1,
                          urgency_high_share=0.35)
    analyzer, tuned = result.analyzer, result.tuned_on
    assert analyzer.urgency_high_share == 0.35 and analyzer.params()["urgency_high_share"] == 0.35
    table = analyzer.served_level_table(tuned.issue, tuned.sentiment, [e.text for e in tuned.examples])
    served = table[np.arange(len(table)), urgency_level_indices(tuned.urgency, analyzer.urgency_cuts)]
    assert 0.35 <= np.mean(served <= 1) <= 0.35 + 2 / len(served)
    fbeta = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, urgency_high_share=None).analyzer
    assert fbeta.urgency_high_share is None and fbeta.params()["urgency_high_share"] == 0.0


def test_repo_settings_default_high_share_matches_the_model_default():
    from models.analyzer import URGENCY_HIGH_SHARE
    from models.settings import Settings

    assert (Settings(data_dir=REPO_ROOT / "data").urgency_high_share or None) == URGENCY_HIGH_SHARE


def test_repo_settings_default_critical_share_matches_the_model_default():
    from models.analyzer import URGENCY_CRITICAL_SHARE
    from models.settings import Settings

    assert Settings(data_dir=REPO_ROOT / "data").urgency_critical_share == URGENCY_CRITICAL_SHARE


def test_repo_settings_default_urgency_blind_labels_match_the_model_default():
    from models.analyzer import URGENCY_BLIND_CUES, URGENCY_BLIND_LABELS, FeedbackAnalyzer
    from models.settings import Settings

    settings = Settings(data_dir=REPO_ROOT / "data")
    assert tuple(settings.stacking_urgency_blind_labels) == URGENCY_BLIND_LABELS
    assert FeedbackAnalyzer(load_taxonomy(settings.taxonomy_path)).stacking_urgency_blind_labels == URGENCY_BLIND_LABELS
    assert tuple(settings.stacking_urgency_blind_cues) == URGENCY_BLIND_CUES == ("legal_threat", "media_threat")
    assert FeedbackAnalyzer(load_taxonomy(settings.taxonomy_path)).stacking_urgency_blind_cues == URGENCY_BLIND_CUES
    assert set(URGENCY_BLIND_CUES) <= set(load_taxonomy(settings.taxonomy_path).cues)  # names the taxonomy has


def test_repo_settings_default_stage_issue_texts_match_fit_and_tune():
    """`feedback train` and a direct fit_and_tune call learn the stage's issue types from the same texts."""
    import inspect

    from models.settings import Settings
    from training.train import fit_and_tune

    default = inspect.signature(fit_and_tune).parameters["stacking_issue_texts"].default
    assert Settings(data_dir=REPO_ROOT / "data").stacking_issue_texts == default == "all"


def test_repo_settings_default_betas_match_the_model_default():
    from models.analyzer import URGENCY_BETAS
    from models.settings import Settings

    assert tuple(Settings(data_dir=REPO_ROOT / "data").urgency_betas) == URGENCY_BETAS


def test_fits_in_worker_processes_give_the_same_model(tiny, monkeypatch):
    """The fold fits and the final fit are independent and seeded: two processes, same thresholds,
    cuts, cross-validated figures and predictions as one."""
    corpus, tax = tiny
    one = fit_and_tune(corpus, tax, seed=5, weak_sentiment=False, folds=3, jobs=1)
    monkeypatch.setattr(train_module, "PARALLEL_MIN_TEXTS", 0)  # the tiny corpus would stay in-process
    steps = []
    two = fit_and_tune(corpus, tax, seed=5, weak_sentiment=False, folds=3, jobs=2, step=steps.append)
    assert any("in 2 processes" in s for s in steps)  # the parallel path ran
    assert np.array_equal(one.analyzer.issue_thresholds, two.analyzer.issue_thresholds)
    assert np.array_equal(one.analyzer.urgency_cuts, two.analyzer.urgency_cuts)
    assert one.cv_metrics == two.cv_metrics and one.learned_from == two.learned_from
    texts = [e.text for e in corpus if e.split == "test"]
    for a, b in zip(one.analyzer.head_probabilities(texts), two.analyzer.head_probabilities(texts), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)  # BLAS threads differ in workers: last bits only


def test_training_jobs_default_to_the_cores_for_the_linear_backend_only():
    from training.train import default_training_jobs

    assert default_training_jobs("tfidf") >= 1
    assert default_training_jobs("fused") == default_training_jobs("transformer") == 1


def test_the_stage_issue_types_learn_from_real_texts_contrast_sets_or_all():
    from training.train import stage_issue_rows

    def ex(n, source, contrast=""):
        return Example(id=f"x:{n}", text=f"t{n}", source=source, issue_types=(), urgency="low", sentiment="neutral",
                       contrast=contrast)

    dev = [ex(0, "real"), ex(1, "authored"), ex(2, "authored", "threat_plain"), ex(3, "real"),
           ex(4, "authored", "negated")]
    real = [0, 3]
    assert stage_issue_rows(dev, real, "real") is None  # as sentiment: the real rows
    assert stage_issue_rows(dev, real, "contrast") == [0, 2, 3, 4]
    assert stage_issue_rows(dev, real, "all") == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="contrast"):
        stage_issue_rows(dev, real, "authored")


def test_heads_decide_through_a_second_stage_fitted_on_out_of_fold_outputs(tiny, monkeypatch):
    from models.analyzer import AnalyzerBase

    corpus, tax = tiny
    fits = []
    original = AnalyzerBase.new_stacker

    def capture(self, issue, sentiment, urgency, *labels_and_cues):
        rows = labels_and_cues[5] if len(labels_and_cues) > 5 else None
        fits.append((np.array(issue), len(labels_and_cues[0]),
                     None if not rows else {name: int(np.sum(mask)) for name, mask in rows.items()}))
        return original(self, issue, sentiment, urgency, *labels_and_cues)

    monkeypatch.setattr(AnalyzerBase, "new_stacker", capture)
    stacked = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, stacking_urgency_texts="all").analyzer
    dev = [e for e in corpus if e.split in ("train", "val")]
    real_dev = [e for e in dev if e.source == "real"]
    assert len(real_dev) < len(dev)
    # the final stage on every dev text (sentiment on the real ones, issue types and urgency on all), then
    # one per fold for cross-fitted tuning outputs
    assert fits[0][1:] == (len(dev), {"sentiment": len(real_dev)}) and len(fits) == 4
    assert sum(n for _, n, _ in fits[1:]) == 2 * len(dev)  # each text is left out of exactly one
    assert sum(m["sentiment"] for _, _, m in fits[1:]) == 2 * len(real_dev)
    assert all(set(m) == {"sentiment"} for _, _, m in fits[1:])
    assert stacked.params()["stacking_urgency_texts"] == "all"
    assert stacked.params()["stacking_issue_texts"] == "all"  # the default since 2026-12-08
    fits.clear()
    # every part on the real texts only (the issue types' default before 2026-12-08)
    real_only = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, stacking_issue_texts="real")
    assert fits[0][1:] == (len(real_dev), None) and sum(n for _, n, _ in fits[1:]) == 2 * len(real_dev)
    assert real_only.analyzer.params()["stacking_urgency_texts"] == "real"
    assert real_only.analyzer.params()["stacking_issue_texts"] == "real"
    real_oof = fits[0][0]
    fits.clear()
    safety = tax.issue_type_ids.index("safety_hazard")
    assert real_only.analyzer.stacker.urgency_blind == (safety,)  # the default since 2026-12-07
    assert real_only.analyzer.params()["stacking_urgency_blind_labels"] == "safety_hazard"
    cue_names = list(tax.cues)
    assert real_only.analyzer.stacker.urgency_blind_cues == (cue_names.index("legal_threat"),
                                                             cue_names.index("media_threat"))
    assert real_only.analyzer.params()["stacking_urgency_blind_cues"] == "legal_threat,media_threat"
    issue_all = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3,  # issue types: every text
                             stacking_urgency_blind_labels=("logistics", "no_such_label"),
                             stacking_urgency_blind_cues=("anger", "no_such_cue"))
    assert issue_all.analyzer.stacker.urgency_blind == (tax.issue_type_ids.index("logistics"),)
    assert issue_all.analyzer.params()["stacking_urgency_blind_labels"] == "logistics"
    assert issue_all.analyzer.stacker.urgency_blind_cues == (cue_names.index("anger"),)
    assert issue_all.analyzer.params()["stacking_urgency_blind_cues"] == "anger"
    # issue types learn from every dev text; sentiment and urgency from the real ones
    assert fits[0][1:] == (len(dev), {"sentiment": len(real_dev), "urgency": len(real_dev)})
    assert issue_all.analyzer.params()["stacking_issue_texts"] == "all"
    in_sample = stacked.head_probabilities([e.text for e in real_dev])
    assert not np.allclose(in_sample[0], real_oof)  # out-of-fold outputs, not the final model's
    texts = [e.text for e in corpus if e.split == "test"]
    out = stacked.predict_outputs(texts)
    assert stacked.stacker.uses_cues and stacked.stacker.cue_flags.cues == tax.cues and stacked.stacker.uses_length
    for got, want in zip((out.issue_proba, out.sentiment_proba, out.urgency_proba),
                         stacked.stacker.predict_proba(*stacked.head_probabilities(texts),
                                                       stacked.stacker.cue_flags(texts), text_lengths(texts)),
                         strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="texts"):
        stacked.stack(*stacked.head_probabilities(texts))
    assert stacked.params()["stacking"] is True
    no_cues = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, stacking_cues=False).analyzer
    assert no_cues.stacker is not None and not no_cues.stacker.uses_cues and no_cues.stacker.uses_length
    no_length = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, stacking_length=False).analyzer
    assert not no_length.stacker.uses_length and no_length.params()["stacking_length"] is False
    assert stacked.params()["stacking_length"] is True
    plain = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3, stacking=False).analyzer
    assert plain.stacker is None and plain.params()["stacking"] is False
    np.testing.assert_array_equal(plain.predict_outputs(texts).issue_proba, plain.head_probabilities(texts)[0])
    assert fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=0).analyzer.stacker is None


def test_tuning_outputs_come_from_stages_that_did_not_learn_the_text():
    """Every tuning output of a text comes from a stage fitted without that text's fold; the final stage,
    which learnt the text, is kept for serving but not used for tuning."""
    from models.analyzer import FeedbackAnalyzer
    from training.train import stack_out_of_fold

    tax = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")
    rng = np.random.default_rng(0)
    n = 300
    issue = rng.uniform(0.01, 0.99, (n, len(tax.issue_type_ids)))
    sentiment = rng.dirichlet(np.ones(3), n)
    urgency = rng.dirichlet(np.ones(4), n)
    dev = [Example(f"x:{i}", f"t{i}" + ("漏电了" if i % 5 == 0 else ""), "real",
                   (tax.issue_type_ids[i % 3],) if i % 2 else (), tax.urgency_ids[i % 4], tax.sentiment_ids[i % 3])
           for i in range(n)]
    fold = [i % 3 for i in range(n)]
    analyzer = FeedbackAnalyzer(tax)
    got = stack_out_of_fold(analyzer, dev, fold, (issue, sentiment, urgency), list(range(n)))
    held = [i for i in range(n) if fold[i] == 1]
    rest = [i for i in range(n) if fold[i] != 1]
    flags = analyzer.stage_cue_flags([e.text for e in dev])
    lengths = analyzer.stage_text_lengths([e.text for e in dev])
    assert flags[:, list(tax.cues).index("safety")].sum() == n // 5
    alone = analyzer.new_stacker(issue[rest], sentiment[rest], urgency[rest], [list(dev[i].issue_types) for i in rest],
                                 [dev[i].sentiment for i in rest], [dev[i].urgency for i in rest], flags[rest],
                                 lengths[rest])
    for whole, part in zip(got, alone.predict_proba(issue[held], sentiment[held], urgency[held], flags[held],
                                                    lengths[held]), strict=True):
        np.testing.assert_allclose(whole[held], part, atol=1e-12)
    final = analyzer.stacker.predict_proba(issue[held], sentiment[held], urgency[held], flags[held], lengths[held])
    assert not np.allclose(final[2], got[2][held])  # the final stage learnt these texts: not used for tuning


def test_a_model_saved_before_the_second_stage_still_loads_and_predicts(tiny, tmp_path):
    from models.analyzer import FeedbackAnalyzer

    corpus, tax = tiny
    model = fit_and_tune(corpus, tax, seed=3, weak_sentiment=False, folds=3).analyzer
    del model.__dict__["stacker"]  # what a pickle from before the stage holds
    loaded = FeedbackAnalyzer.load(model.save(tmp_path / "old.joblib"))
    texts = [e.text for e in corpus if e.split == "test"]
    out, raw = loaded.predict_outputs(texts), loaded.head_probabilities(texts)
    np.testing.assert_array_equal(out.issue_proba, raw[0])
    np.testing.assert_array_equal(out.urgency_proba, raw[2])
    assert loaded.params()["stacking"] is False
