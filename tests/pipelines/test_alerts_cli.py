"""`feedback alerts run` on a small synthetic complaint file: one alert, then an update on re-run."""

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from inference.alerting.store import AlertStore
from inference.storage.engine import Database
from inference.storage.tables import DefectAlert, OutboxEvent
from models.settings import get_settings
from pipelines.alerts import AlertRunConfig, load_events_file, run_alerts
from pipelines.cli import app
from tests.conftest import make_settings, write_tiny_corpus

runner = CliRunner()
START = pd.Timestamp("2026-01-05")  # Monday; 7 weekly windows end 2026-02-23


def synthetic(tmp_path, spike: int = 24, weeks: int = 7, fmt: str = "jsonl"):
    """Steady logistics complaints for two products; in the last week SKU-A's quality complaints jump."""
    rng = np.random.default_rng(0)
    rows = []
    for w in range(weeks):
        for product in ("SKU-A", "SKU-B"):
            n_quality = spike if (w == weeks - 1 and product == "SKU-A") else 3
            rows += [(w, "充电器用两天就坏了，插上没反应，联系我13812345678", product, ["product_quality"])] * n_quality
            rows += [(w, f"快递太慢了，等了{i + 3}天", product, ["logistics"]) for i in range(4)]
        rows.append((w, "很好用，好评", "SKU-A", []))
    frame = pd.DataFrame(rows, columns=["week", "text", "product_id", "issue_types"])
    offsets = rng.uniform(3600, 6 * 86400, len(frame))
    frame["created_at"] = [(START + pd.Timedelta(days=7 * int(w), seconds=float(s))).isoformat()
                           for w, s in zip(frame.pop("week"), offsets, strict=True)]
    frame["sentiment"] = ["positive" if not x else "negative" for x in frame["issue_types"]]
    path = tmp_path / f"complaints.{fmt}"
    if fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.assign(issue_types=["|".join(x) for x in frame["issue_types"]]).to_csv(path, index=False)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    write_tiny_corpus(tmp_path / "data", copies=1, with_real=False)  # taxonomy for the Chinese names
    settings = make_settings(tmp_path, ticketing_connector="webhook")
    for name, value in {"FEEDBACK_TRACKING_URI": settings.tracking_uri, "FEEDBACK_DATA_DIR": str(settings.data_dir),
                        "FEEDBACK_ARTIFACT_ROOT": str(settings.artifact_root),
                        "FEEDBACK_DATABASE_URL": settings.database_url, "FEEDBACK_TICKETING_CONNECTOR": "webhook"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def _alerts(settings):
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            return list(s.scalars(select(DefectAlert))), list(s.scalars(select(OutboxEvent)))
    finally:
        db.dispose()


def test_run_creates_one_alert_and_a_rerun_updates_it(env, tmp_path):
    src = synthetic(tmp_path)
    args = ["alerts", "run", "--input", str(src), "--by", "issue_type", "--min-count", "10", "--end", "2026-02-23"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "新建" in result.output and "SKU-A" in result.output and "商品质量" in result.output
    [alert], events = _alerts(env)
    assert (alert.product_id, alert.key_kind, alert.key, alert.status) == ("SKU-A", "issue_type", "product_quality",
                                                                           "new")
    assert alert.count == 24 and alert.baseline == pytest.approx(3.0) and alert.title == "商品质量"
    assert pd.Timestamp(alert.window_start) == pd.Timestamp("2026-02-15T16:00:00")  # 2026-02-16 00:00 +08:00
    assert alert.examples and all("13812345678" not in x for x in alert.examples)
    assert "充电器" in alert.keywords
    assert [c for _, c in alert.trend] == [3, 3, 3, 3, 3, 3, 24]
    assert len(events) == 1

    # same data, same window: the alert is refreshed, nothing new is created or enqueued
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "刷新" in result.output
    [again], events = _alerts(env)
    assert again.id == alert.id and again.detections == 1 and len(events) == 1

    # one more week of data with the spike continuing: the same alert is updated
    more = synthetic(tmp_path, weeks=8, spike=24)
    result = runner.invoke(app, ["alerts", "run", "--input", str(more), "--by", "issue_type", "--since", "56",
                                 "--end", "2026-03-02"])
    assert result.exit_code == 0, result.output
    [updated], events = _alerts(env)
    assert updated.id == alert.id and updated.detections == 2 and len(events) == 2
    assert pd.Timestamp(updated.window_start) == pd.Timestamp("2026-02-22T16:00:00")

    listing = runner.invoke(app, ["alerts", "list", "--product", "SKU-A"])
    assert listing.exit_code == 0 and alert.id in listing.output


def test_run_on_csv_without_topic_model_falls_back_to_issue_types(env, tmp_path):
    src = synthetic(tmp_path, fmt="csv")
    result = runner.invoke(app, ["alerts", "run", "--input", str(src), "--end", "2026-02-23"])
    assert result.exit_code == 0, result.output
    assert "主题模型不可用" in result.output
    [alert], _ = _alerts(env)
    assert alert.key == "product_quality"
    # asking for topics explicitly without a model is a usage error
    result = runner.invoke(app, ["alerts", "run", "--input", str(src), "--by", "topic"])
    assert result.exit_code == 2


def test_run_rejects_files_without_required_columns(env, tmp_path):
    src = tmp_path / "x.csv"
    pd.DataFrame({"text": ["坏了"]}).to_csv(src, index=False)
    result = runner.invoke(app, ["alerts", "run", "--input", str(src)])
    assert result.exit_code == 2 and "product_id" in result.output


class FakeTopics:
    """Stands in for a fitted TopicModel: topic 0 = battery (mapped to safety_hazard), 1 = delivery."""

    def transform(self, texts, advance=None):
        ids = np.array([0 if "电池" in t else (1 if "快递" in t else -1) for t in texts])
        if advance:
            advance(len(texts))
        return ids, np.ones(len(texts), dtype=np.float32)

    def topic_info(self):
        return [{"topic": -1, "name": "未归类(离群)", "keywords": [], "issue_types": []},
                {"topic": 0, "name": "电池、鼓包", "keywords": ["电池", "鼓包"],
                 "issue_types": [{"issue_type": "product_quality", "share": 0.9},
                                 {"issue_type": "safety_hazard", "share": 0.4}]},
                {"topic": 1, "name": "快递、太慢", "keywords": ["快递"], "issue_types": [{"issue_type": "logistics",
                                                                                          "share": 1.0}]}]


def test_topic_keys_and_safety_topics(tmp_path):
    settings = make_settings(tmp_path)
    rows = []
    for w in range(7):
        for i in range(4):
            rows.append({"text": f"快递太慢{i}", "product_id": "P", "issue_types": ["logistics"],
                         "created_at": str(START + pd.Timedelta(days=7 * w, hours=10 + i))})
    for i in range(3):  # a brand-new safety topic: 3 reports are enough
        rows.append({"text": f"电池鼓包冒烟{i}", "product_id": "P", "issue_types": [], "sentiment": "negative",
                     "created_at": str(START + pd.Timedelta(days=44, hours=i))})
    src = tmp_path / "t.jsonl"
    pd.DataFrame(rows).to_json(src, orient="records", lines=True, force_ascii=False)
    events = load_events_file(src, "Asia/Shanghai")
    store = AlertStore(Database(settings.database_url), settings)
    report = run_alerts(settings, events, AlertRunConfig(by="topic"), store=store, topic_model=FakeTopics())
    [r] = report.results
    assert (r.key_kind, r.key, r.title, r.severity) == ("topic", "0", "电池、鼓包", "critical")
    alert = store.get(r.alert_id)
    assert alert.keywords == ["电池", "鼓包"] and alert.issue_types == ["product_quality", "safety_hazard"]
    assert alert.is_new_topic and len(alert.examples) == 3


def test_run_reads_stored_classifications_by_default(env, tmp_path):
    """Without --input the job reads the classifications table: complaints only, stored times are UTC."""
    from inference.storage.tables import Classification

    db = Database(env.database_url)
    rows = []
    for w in range(7):
        n = 20 if w == 6 else 2
        for i in range(n + 3):
            quality = i < n
            result = {"issue_types": [{"label": "product_quality", "name": "商品质量", "score": 0.9}] if quality else [],
                      "sentiment": {"label": "negative" if quality else "positive", "score": 0.0},
                      "keywords": ["屏幕", "闪烁"] if quality else []}
            rows.append(Classification(
                request_id=f"r{w}", item_id=f"{w}-{i}", model_version="1", product_id="SKU-DB",
                text_masked="屏幕一直闪烁" if quality else "很好", inputs={}, result=result, priority="P3",
                created_at=(START + pd.Timedelta(days=7 * w, hours=12 + i % 10)).to_pydatetime()))
    with db.session() as s:
        s.add_all(rows)
    db.dispose()
    result = runner.invoke(app, ["alerts", "run", "--by", "issue_type", "--end", "2026-02-23"])
    assert result.exit_code == 0, result.output
    [alert], _ = _alerts(env)
    assert (alert.product_id, alert.key, alert.count) == ("SKU-DB", "product_quality", 20)
    assert alert.keywords[:2] == ["屏幕", "闪烁"] and alert.examples == ["屏幕一直闪烁"]
