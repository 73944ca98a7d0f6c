"""The `feedback` command line through Typer's runner."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.settings import get_settings
from pipelines.cli import app

runner = CliRunner()


@pytest.fixture
def champion_env(trained, monkeypatch):
    settings, _ = trained
    monkeypatch.setenv("FEEDBACK_TRACKING_URI", settings.tracking_uri)
    monkeypatch.setenv("FEEDBACK_ARTIFACT_ROOT", str(settings.artifact_root))
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def _rows(n):
    base = ["快递太慢", "屏幕坏了", "很好用", "请问有发票吗", "客服不理人"]
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": [f"{base[i % 5]} {i}" for i in range(n)]})


@pytest.mark.parametrize("fmt, workers", [("csv", "1"), ("csv", "2"), ("jsonl", "1"), ("parquet", "1")])
def test_score_writes_one_line_per_row_in_order(champion_env, tmp_path, fmt, workers):
    n = 1000 if fmt == "csv" else 37
    frame = _rows(n)
    src = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        frame.to_csv(src, index=False)
    elif fmt == "jsonl":
        frame.to_json(src, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(src)
    dst = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", str(src), str(dst), "--batch-size", "128", "--workers", workers])
    assert result.exit_code == 0, result.output
    lines = dst.read_text(encoding="utf-8").splitlines()
    assert len(lines) == n
    assert [json.loads(x)["id"] for x in lines] == frame["id"].tolist()


def test_score_without_id_column_numbers_rows(champion_env, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["好", "坏了"]}).to_csv(src, index=False)
    result = runner.invoke(app, ["score", str(src), str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["id"] for x in (tmp_path / "o.jsonl").read_text().splitlines()] == ["1", "2"]


def test_score_rejects_bad_inputs(champion_env, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello")
    result = runner.invoke(app, ["score", str(src), str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "unsupported" in result.output
    src = tmp_path / "in.csv"
    pd.DataFrame({"body": ["x"]}).to_csv(src, index=False)
    result = runner.invoke(app, ["score", str(src), str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "'text'" in result.output


def test_ensure_model_skips_when_champion_exists(champion_env):
    result = runner.invoke(app, ["ensure-model"])
    assert result.exit_code == 0 and "nothing to train" in result.output


def test_data_stats_prints_counts(champion_env):
    result = runner.invoke(app, ["data", "stats"])
    assert result.exit_code == 0, result.output
    assert "product_quality" in result.output and "real/test" in result.output


def test_evaluate_prints_targets_and_baselines(champion_env):
    result = runner.invoke(app, ["evaluate", "--split", "test"])
    assert result.exit_code == 0, result.output
    for needle in ("test.issue.micro_f1", "≥ 0.85", "snownlp", "keyword_triage"):
        assert needle in result.output


def test_evaluate_leaves_out_texts_the_model_trained_on(champion_env):
    result = runner.invoke(app, ["evaluate", "--split", "test", "--no-baselines"])
    assert result.exit_code == 0, result.output
    assert "none of these texts was a training text of the model" in result.output
    result = runner.invoke(app, ["evaluate", "--split", "train", "--no-baselines"])
    assert result.exit_code == 2 and "no texts to evaluate" in result.output
    result = runner.invoke(app, ["evaluate", "--split", "train", "--no-baselines", "--no-held-out-only"])
    assert result.exit_code == 0, result.output
    assert "were training texts of the model" in result.output


def test_evaluate_on_a_labelled_file_and_its_errors(champion_env, tmp_path):
    records = [{"text": "充电宝冒烟了，把手烫伤了", "issue_types": ["product_quality", "safety_hazard"],
                "urgency": "critical", "sentiment": "negative"},
               {"text": "很好用，物流也快", "issue_types": [], "urgency": "low", "sentiment": "positive"},
               {"text": "快递太慢了一个星期才到", "issue_types": ["logistics"], "urgency": "medium",
                "sentiment": "negative"}]
    path = tmp_path / "ours.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(path), "--no-baselines"])
    assert result.exit_code == 0, result.output
    assert "on ours.jsonl (n=3)" in result.output
    for needle in ("test.issue.micro_f1", "test.urgency.share_critical", "test.n_examples"):
        assert needle in result.output
    path.write_text(json.dumps({**records[0], "urgency": "urgent"}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(path)])
    assert result.exit_code == 2 and "ours.jsonl:1: unknown urgency" in result.output


def test_promote_moves_the_alias_and_rejects_unknown_versions(champion_env):
    from training import registry, tracking
    from training.train import run_training

    report = run_training(champion_env, seed=3, weak_sentiment=False, force=False)
    tracking.use_store(champion_env)
    result = runner.invoke(app, ["promote", "1"])
    assert result.exit_code == 0, result.output
    assert registry.champion(champion_env).version == "1"
    result = runner.invoke(app, ["promote", report.version, "--reason", "ahead on nested CV"])
    assert result.exit_code == 0 and registry.champion(champion_env).version == report.version
    from mlflow import MlflowClient

    tags = MlflowClient().get_model_version(champion_env.registered_model_name, report.version).tags
    assert tags["champion.reason"] == "feedback promote: ahead on nested CV" and tags["champion.previous"] == "1"
    assert tags["champion.promoted_at"].startswith("20")
    first = MlflowClient().get_model_version(champion_env.registered_model_name, "1").tags
    assert first["champion.reason"].startswith("feedback promote: no reason given")
    result = runner.invoke(app, ["promote", "999"])
    assert result.exit_code == 2 and "no version 999" in result.output
    runner.invoke(app, ["promote", "1"])  # leave the shared session model as it was
