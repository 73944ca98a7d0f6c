"""Text → feature matrix. Every featurizer has ``fit``/``transform`` and is chosen by name in config,
so a new backend (sentence embeddings, a transformer) is a registry entry, not an edit of the heads."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from models.text import normalize, tokenize


class Featurizer(Protocol):
    def fit(self, texts: list[str]) -> Featurizer: ...

    def transform(self, texts: list[str]) -> sp.spmatrix | np.ndarray: ...


def _identity(tokens):
    return tokens


class TfidfFeaturizer:
    """Word n-grams (jieba-compatible tokens) + character n-grams, hashed, with sublinear TF-IDF.

    Char n-grams catch misspellings and words the tokenizer splits oddly; word n-grams carry
    negation and phrases ("不能用", "没有发票"). Hashing (no vocabulary dict lookups in Python) is what
    makes transform fast enough for the throughput target; 2^18 buckets per family keep collisions rare
    for a corpus of this size. Texts are normalised and tokenised once per call.
    """

    name = "tfidf"

    def __init__(self, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (1, 3),
                 n_features: int = 2**18):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.n_features = n_features
        self.word_tfidf: TfidfTransformer | None = None
        self.char_tfidf: TfidfTransformer | None = None

    def _hashers(self) -> tuple[HashingVectorizer, HashingVectorizer]:
        common = dict(n_features=self.n_features, alternate_sign=False, norm=None, dtype=np.float32)
        word = HashingVectorizer(analyzer=_identity, **common)
        char = HashingVectorizer(analyzer="char", ngram_range=self.char_ngrams, lowercase=False, **common)
        return word, char

    def _word_ngrams(self, normalized: list[str]) -> list[list[str]]:
        lo, hi = self.word_ngrams
        out = []
        for text in normalized:
            toks = tokenize(text)
            grams = [] if lo > 1 else list(toks)
            for n in range(max(lo, 2), hi + 1):
                grams.extend(" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
            out.append(grams)
        return out

    def _counts(self, texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        normalized = [normalize(t) for t in texts]
        word_h, char_h = self._hashers()
        return word_h.transform(self._word_ngrams(normalized)), char_h.transform(normalized)

    def fit(self, texts: list[str]) -> TfidfFeaturizer:
        words, chars = self._counts(list(texts))
        self.word_tfidf = TfidfTransformer(sublinear_tf=True).fit(words)
        self.char_tfidf = TfidfTransformer(sublinear_tf=True).fit(chars)
        return self

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if self.word_tfidf is None or self.char_tfidf is None:
            raise RuntimeError("featurizer is not fitted")
        words, chars = self._counts(list(texts))
        return sp.hstack([self.word_tfidf.transform(words), self.char_tfidf.transform(chars)], format="csr")


FEATURIZERS = {"tfidf": TfidfFeaturizer}


def make_featurizer(name: str, **params) -> Featurizer:
    try:
        return FEATURIZERS[name](**params)
    except KeyError:
        raise ValueError(f"unknown featurizer {name!r}; known: {sorted(FEATURIZERS)}") from None
