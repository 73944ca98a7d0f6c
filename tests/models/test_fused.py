"""The fused backend: TF-IDF heads averaged with heads on sentence embeddings (tiny tfidf-svd here)."""

import numpy as np
import pytest

from models.analyzer import FeedbackAnalyzer, load_analyzer
from models.fused import FusedAnalyzer
from models.taxonomy import load_taxonomy
from tests.conftest import make_settings, write_tiny_corpus
from training.dataset import load_corpus
from training.train import fit_analyzer, make_analyzer, run_training

TEXTS = ["手机屏幕碎了，快递包装太差", "请问发票什么时候开", "充电器冒烟了！！", "很满意，五星好评"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("fused")
    write_tiny_corpus(root / "data")
    settings = make_settings(root)
    tax = load_taxonomy(settings.taxonomy_path)
    train = [e for e in load_corpus(settings.data_dir / "corpus", tax) if e.split == "train"]
    analyzer = FusedAnalyzer(tax, embedding="tfidf-svd", weight=0.4, seed=3, embedding_params={"dim": 16, "min_df": 1})
    fit_analyzer(train, tax, seed=3, weak_sentiment=False, analyzer=analyzer)
    return tax, train, analyzer


def test_probabilities_are_the_weighted_average_of_both_halves(fitted):
    tax, _train, fused = fitted
    X = fused.featurizer.transform(TEXTS)
    lin = FeedbackAnalyzer._probabilities(fused, X)
    E = fused.embedder.encode(TEXTS)
    emb = (fused.embedding_issue_head.predict_proba(E), fused.embedding_sentiment_head.predict_proba(E),
           fused.embedding_urgency_head.predict_proba(E))
    for got, a, b in zip(fused.head_probabilities(TEXTS), lin, emb, strict=True):
        np.testing.assert_allclose(got, 0.6 * a + 0.4 * b, rtol=1e-6, atol=1e-7)
        assert not np.allclose(a, b)  # the halves differ, so the average is a real check
    out = fused.predict_outputs(TEXTS, explain=True)
    assert out.keywords is not None and len(out.keywords) == len(TEXTS)


def test_variants_share_one_embedding(fitted):
    _tax, _train, fused = fitted
    fused.__dict__.pop("_memo", None)
    fused.embed(["這個產品質量很差", "这个产品质量很差", "这个产品质量很差🙂"])
    assert len(fused.__dict__["_memo"]) == 1


def test_save_load_round_trip_without_the_memo(fitted, tmp_path):
    _tax, _train, fused = fitted
    fused.embed(TEXTS)
    path = fused.save(tmp_path / "fused.joblib")
    loaded = load_analyzer(path)
    assert isinstance(loaded, FusedAnalyzer) and "_memo" not in loaded.__dict__
    for a, b in zip(loaded.head_probabilities(TEXTS), fused.head_probabilities(TEXTS), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert loaded.params()["backend"] == "fused" and loaded.params()["fusion_weight"] == 0.4


def test_bad_weight_and_backend_selection(fitted):
    tax, _train, _fused = fitted
    with pytest.raises(ValueError):
        FusedAnalyzer(tax, embedding="tfidf-svd", weight=1.5)
    assert make_analyzer(tax, 1, "fused", fusion_embedding="tfidf-svd").backend == "fused"


def test_feedback_train_with_the_fused_backend(tmp_path):
    import mlflow

    write_tiny_corpus(tmp_path / "data")
    settings = make_settings(tmp_path, backend="fused", fusion_embedding="tfidf-svd")
    report = run_training(settings, seed=5, weak_sentiment=False)
    assert report.promoted and report.version == "1"
    assert 0.0 <= report.metrics["test.issue.micro_f1"] <= 1.0
    run = mlflow.get_run(report.run_id)
    assert run.data.params["backend"] == "fused" and run.data.params["embedding"] == "tfidf-svd"
    model = mlflow.pyfunc.load_model(settings.champion_uri).unwrap_python_model()
    assert model.analyzer.backend == "fused"
    assert [r["id"] for r in model.predict_items([{"id": "a", "text": TEXTS[0]}])] == ["a"]
