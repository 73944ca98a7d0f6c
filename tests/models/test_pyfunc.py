"""The pyfunc wrapper round trip: what MLflow loads answers exactly as the in-memory model."""

import json

import mlflow
import pandas as pd

from models.pyfunc import FeedbackAnalyzerModel
from models.taxonomy import load_taxonomy
from tests.conftest import make_settings, write_tiny_corpus
from training import tracking
from training.dataset import load_corpus
from training.train import fit_analyzer

TEXTS = ["手机屏幕碎了，快递包装太差", "请问发票什么时候开", "充电器冒烟了！！", "很满意，五星好评"]


def test_log_load_predict_equals_in_memory(tmp_path):
    write_tiny_corpus(tmp_path / "data")
    settings = make_settings(tmp_path)
    tax = load_taxonomy(settings.taxonomy_path)
    corpus = load_corpus(settings.data_dir / "corpus", tax)
    analyzer = fit_analyzer([e for e in corpus if e.split == "train"], tax, seed=3, weak_sentiment=False)
    frame = pd.DataFrame({"id": [f"t{i}" for i in range(len(TEXTS))], "text": TEXTS, "channel": "chat",
                          "created_at": "2026-11-23T10:00:00+08:00", "customer_tier": ["vip", None, None, None],
                          "contact_count": [1, 3, 0, 0], "order_value": [4999.0, 10.0, 0.0, 0.0]})
    in_memory = FeedbackAnalyzerModel(analyzer, tax).predict(None, frame)

    with mlflow.start_run(experiment_id=tracking.configure(settings)):
        info = tracking.log_pyfunc(analyzer.save(tmp_path / "a.joblib"), settings.taxonomy_path, None,
                                   frame.head(2))
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    from_mlflow = loaded.predict(frame)

    pd.testing.assert_frame_equal(from_mlflow.reset_index(drop=True), in_memory.reset_index(drop=True))
    assert [json.loads(r)["id"] for r in from_mlflow["result"]] == ["t0", "t1", "t2", "t3"]
    assert loaded.metadata.get_input_schema().input_names()[:2] == ["id", "text"]


def test_result_schema(trained):
    settings, _report = trained
    tracking.use_store(settings)
    model = mlflow.pyfunc.load_model(settings.champion_uri).unwrap_python_model()
    results = model.predict_records(pd.DataFrame({"text": TEXTS}))
    tax = load_taxonomy(settings.taxonomy_path)
    for r in results:
        assert set(r) == {"id", "issue_types", "sentiment", "urgency", "priority", "reasons", "sla",
                          "escalate_to_human", "keywords", "suggested_actions", "model_version"}
        scores = [x["score"] for x in r["issue_types"]]
        assert scores == sorted(scores, reverse=True)
        for x in r["issue_types"]:
            assert x["label"] in tax.issue_type_ids and x["name"] == tax.issue_name(x["label"])
        assert r["sentiment"]["label"] in tax.sentiment_ids and -1 <= r["sentiment"]["score"] <= 1
        assert r["urgency"]["level"] in tax.urgency_ids and 0 <= r["urgency"]["score"] <= 1
        assert r["priority"] in {"P1", "P2", "P3", "P4"} and r["reasons"]
        assert r["sla"]["first_response_due"] <= r["sla"]["resolution_due"]
        assert all(isinstance(k, str) and k.strip() for k in r["keywords"])
        if r["issue_types"]:
            assert r["suggested_actions"]
    assert [r["id"] for r in results] == ["0", "1", "2", "3"]


def test_empty_input_gives_no_rows(trained):
    settings, _ = trained
    tracking.use_store(settings)
    model = mlflow.pyfunc.load_model(settings.champion_uri)
    out = model.predict(pd.DataFrame({"id": pd.Series([], dtype=str), "text": pd.Series([], dtype=str)}))
    assert len(out) == 0
