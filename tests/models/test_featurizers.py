"""The one-pass TF-IDF transform equals scikit-learn's transformers applied block by block."""

import numpy as np
import scipy.sparse as sp

from models.featurizers import TfidfFeaturizer
from models.hashing import char_ngram_counts, count_matrix, word_ngram_counts
from models.text import normalize, tokenize

TEXTS = ["收到的手机屏幕有划痕，申请退货！！", "物流太慢了，等了一个星期", "", "好评", "好评",
         "客服态度很差，问了三次都不回复？？？", "充电器用了两天就发烫冒烟了", "iPhone 15 Pro 256G 发票怎么开",
         "😡😡 什么破东西", "。。。", "a"]


def reference_transform(f: TfidfFeaturizer, texts: list[str]) -> sp.csr_matrix:
    """scikit-learn's transform per block, in float64 (it keeps the float32 of the counts otherwise)."""
    normalized = [normalize(t) for t in texts]
    words = word_ngram_counts([tokenize(t) for t in normalized], f.word_ngrams, f.n_features)
    chars = char_ngram_counts(normalized, f.char_ngrams, f.n_features)
    return sp.hstack([f.word_tfidf.transform(words.astype(np.float64)),
                      f.char_tfidf.transform(chars.astype(np.float64))], format="csr")


def test_transform_equals_sklearn_blockwise():
    f = TfidfFeaturizer(n_features=2**12).fit(TEXTS[:8])  # a small space forces hash collisions too
    for batch in (TEXTS, TEXTS[:1], TEXTS[2:3], ["从没见过的词语 zzz"], TEXTS[::-1]):
        fast, ref = f.transform(batch), reference_transform(f, batch)
        assert fast.shape == ref.shape == (len(batch), 2 * 2**12)
        assert fast.has_canonical_format
        np.testing.assert_array_equal(fast.indptr, ref.indptr)
        np.testing.assert_array_equal(fast.indices, ref.indices)
        np.testing.assert_allclose(fast.data, ref.data, rtol=1e-12, atol=1e-15)


def test_rows_do_not_depend_on_the_batch():
    f = TfidfFeaturizer(n_features=2**12).fit(TEXTS)
    alone = f.transform([TEXTS[5]]).toarray()[0]
    together = f.transform(TEXTS).toarray()[5]
    np.testing.assert_array_equal(alone, together)


def test_count_matrix_is_canonical_and_counts_duplicates():
    m = count_matrix(np.array([2, 0, 2, 2]), np.array([5, 1, 5, 0]), n_docs=4, n_cols=8)
    assert m.has_canonical_format and m.shape == (4, 8)
    expected = np.zeros((4, 8))
    expected[0, 1], expected[2, 5], expected[2, 0] = 1, 2, 1
    np.testing.assert_array_equal(m.toarray(), expected)
    empty = count_matrix(np.empty(0, np.int64), np.empty(0, np.int64), n_docs=2, n_cols=8)
    assert empty.nnz == 0 and empty.shape == (2, 8)
