"""Keyword attributions of the linear backend: the vectorised batch version equals a plain per-text
reading of the definition (largest TF-IDF × coefficient among the text's word uni- and bigrams)."""

import numpy as np

import models.keywords as kw
from models.featurizers import TfidfFeaturizer
from models.hashing import word_ngram_counts

TEXTS = ["收到的手机屏幕有划痕，申请退货！！", "物流太慢了，等了一个星期", "", "好评", "快递 快递 快递太慢",
         "客服态度很差，问了三次都不回复？？？", "充电器用了两天就发烫冒烟了", "iPhone 15 Pro 256G 发票怎么开",
         "😡😡 什么破东西", "。。。", "a", "电池 鼓包 电池鼓包 发烫"]
NF = 2**10  # small: hash collisions happen and must not change the answer


def reference(tokens, X, W, predicted, top=kw.MAX_KEYWORDS):
    out = []
    for i, toks in enumerate(tokens):
        if not predicted[i]:
            out.append([])
            continue
        words = [t for t in toks if kw._has_letter(t)]
        grams = [([t], t) for t in words if len(t) >= 2]
        grams += [([a, b], kw._join(a, b)) for a, b in zip(words, words[1:], strict=False)]
        scored = []
        for pos, (parts, text) in enumerate(grams):
            col = word_ngram_counts([parts], (len(parts), len(parts)), NF).indices[0]
            scored.append((-(X[i, col] * max(W[lab, col] for lab in predicted[i])), pos, text))
        chosen = []
        for neg, _pos, g in sorted(scored):
            if not -neg > 0 or len(chosen) >= top:
                break
            if not any(g in c or c in g for c in chosen):
                chosen.append(g)
        out.append(chosen)
    return out


def test_batch_keywords_equal_the_per_text_definition():
    f = TfidfFeaturizer(n_features=NF).fit(TEXTS)
    X, tokens = f.transform_with_tokens(TEXTS)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, NF))
    predicted = [sorted(rng.choice(4, size=rng.integers(0, 3), replace=False).tolist()) for _ in TEXTS]
    predicted[0] = [0, 1]
    got = kw.linear_keywords(tokens, X, W, predicted, NF)
    assert got == reference(tokens, X.toarray(), W, predicted)
    assert any(got)  # the check compares real attributions, not empty lists
    assert all(got[i] == [] for i, p in enumerate(predicted) if not p)


def test_letter_cache_overflow_gives_the_same_answer(monkeypatch):
    f = TfidfFeaturizer(n_features=NF).fit(TEXTS)
    X, tokens = f.transform_with_tokens(TEXTS)
    W = np.abs(np.random.default_rng(1).normal(size=(2, NF)))
    predicted = [[0, 1]] * len(TEXTS)
    expected = kw.linear_keywords(tokens, X, W, predicted, NF)
    monkeypatch.setattr(kw, "_HAS_LETTER", {})
    monkeypatch.setattr(kw, "_HAS_LETTER_MAX", 5)  # forces clearing and the uncached path
    assert kw.linear_keywords(tokens, X, W, predicted, NF) == expected
    assert len(kw._HAS_LETTER) <= 5
