"""`feedback topics fit|assign|report` on a tiny file, into a temporary MLflow store."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.settings import get_settings
from pipelines.cli import app
from tests.conftest import make_settings
from tests.models.topic_fixtures import ISSUE_OF_THEME, tiny_corpus

runner = CliRunner()


@pytest.fixture
def store(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)
    monkeypatch.setenv("FEEDBACK_TRACKING_URI", settings.tracking_uri)
    monkeypatch.setenv("FEEDBACK_ARTIFACT_ROOT", str(settings.artifact_root))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


@pytest.fixture
def clustering_fast(monkeypatch):
    """PCA + KMeans instead of UMAP + HDBSCAN (their numba JIT costs ~15 s per process)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    import models.topics as topics

    monkeypatch.setattr(topics.TopicModel, "_reducer", lambda self, n: PCA(5, random_state=self.seed))
    monkeypatch.setattr(topics.TopicModel, "_clusterer", lambda self: KMeans(3, n_init=10, random_state=self.seed))


@pytest.mark.slow  # two fits + MLflow model logging: ~40 s
def test_fit_assign_report(store, clustering_fast, tmp_path):
    from mlflow import MlflowClient

    texts, labels = tiny_corpus()
    src = tmp_path / "feedback.jsonl"
    pd.DataFrame({"id": [f"f{i}" for i in range(len(texts))], "text": texts, "product_id": "p1",
                  "issue_types": [ISSUE_OF_THEME[x] for x in labels]}).to_json(
        src, orient="records", lines=True, force_ascii=False)
    result = runner.invoke(app, ["topics", "fit", str(src), "--min-topic-size", "8", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "3 topics" in result.output and "@champion" in result.output

    client = MlflowClient(store.tracking_uri)
    mv = client.get_model_version_by_alias("feedback-topics", "champion")
    assert str(mv.version) == "1" and mv.tags["embedding_backend"] == "tfidf-svd"
    run = client.get_run(mv.run_id)
    assert run.data.params["embedding_backend"] == "tfidf-svd"
    assert run.data.metrics["topic_count"] == 3 and run.data.metrics["outlier_share"] == 0.0
    assert {a.path for a in client.list_artifacts(mv.run_id)} >= {"topic_report.json", "topic_report.md"}

    # a second fit without promotion registers version 2 but keeps @champion on 1
    result = runner.invoke(app, ["topics", "fit", str(src), "--min-topic-size", "8", "--no-promote"])
    assert result.exit_code == 0, result.output
    assert str(client.get_model_version_by_alias("feedback-topics", "champion").version) == "1"

    new = tmp_path / "new.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["屏幕闪烁得厉害", "电池续航太短", "快递三天没到"]}).to_csv(new, index=False)
    out = tmp_path / "assigned.jsonl"
    result = runner.invoke(app, ["topics", "assign", str(new), str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert len({r["topic"] for r in rows}) == 3 and all(r["topic_name"] for r in rows)
    assert "屏幕" in rows[0]["topic_name"] and "电池" in rows[1]["topic_name"] and "快递" in rows[2]["topic_name"]

    md = tmp_path / "report.md"
    result = runner.invoke(app, ["topics", "report", "--output", str(md)])
    assert result.exit_code == 0, result.output
    assert "离群占比" in result.output and "屏幕" in result.output
    text = md.read_text(encoding="utf-8")
    assert "主题数 topic_count: 3" in text and "logistics" in text


def test_fit_rejects_unknown_backend_and_bad_file(store, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["屏幕坏了"] * 5}).to_csv(src, index=False)
    assert runner.invoke(app, ["topics", "fit", str(src), "--backend", "bert"]).exit_code == 2
    bad = tmp_path / "in.csv2"
    bad.write_text("x")
    assert runner.invoke(app, ["topics", "fit", str(bad)]).exit_code == 2
