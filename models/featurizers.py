"""Text → feature matrix. Every featurizer has ``fit``/``transform`` and is chosen by name in config,
so a new backend (sentence embeddings, a transformer) is a registry entry, not an edit of the heads."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer

from models.hashing import char_ngram_counts, word_ngram_counts
from models.text import normalize, tokenize


class Featurizer(Protocol):
    def fit(self, texts: list[str]) -> Featurizer: ...

    def transform(self, texts: list[str]) -> sp.spmatrix | np.ndarray: ...


class TfidfFeaturizer:
    """Word n-grams (jieba-compatible tokens) + character n-grams, hashed, with sublinear TF-IDF.

    Char n-grams catch misspellings and words the tokenizer splits oddly; word n-grams carry
    negation and phrases ("不能用", "没有发票"). Hashing is vectorised (``models.hashing``): there is no
    vocabulary to look up in Python, which is what makes transform fast enough for the throughput
    target; 2^18 buckets per family keep collisions rare for a corpus of this size.
    """

    name = "tfidf"

    def __init__(self, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (1, 3),
                 n_features: int = 2**18):
        if n_features & (n_features - 1):
            raise ValueError("n_features must be a power of two")
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.n_features = n_features
        self.word_tfidf: TfidfTransformer | None = None
        self.char_tfidf: TfidfTransformer | None = None

    def _counts(self, texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        normalized = [normalize(t) for t in texts]
        words = word_ngram_counts([tokenize(t) for t in normalized], self.word_ngrams, self.n_features)
        chars = char_ngram_counts(normalized, self.char_ngrams, self.n_features)
        return words, chars

    def fit(self, texts: list[str]) -> TfidfFeaturizer:
        words, chars = self._counts(list(texts))
        self.word_tfidf = TfidfTransformer(sublinear_tf=True).fit(words)
        self.char_tfidf = TfidfTransformer(sublinear_tf=True).fit(chars)
        return self

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if self.word_tfidf is None or self.char_tfidf is None:
            raise RuntimeError("featurizer is not fitted")
        words, chars = self._counts(list(texts))
        return sp.hstack([_tfidf(words, self.word_tfidf), _tfidf(chars, self.char_tfidf)], format="csr")


def _tfidf(counts: sp.csr_matrix, fitted: TfidfTransformer) -> sp.csr_matrix:
    """``fitted.transform(counts)`` (sublinear tf, idf, l2 rows) without scikit-learn's per-call input
    validation, which cost more than the arithmetic for a single text. Equal to it (tested)."""
    X = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    np.log(X.data, out=X.data)
    X.data += 1.0
    X.data *= fitted.idf_[X.indices]
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    norms = np.sqrt(np.bincount(rows, weights=X.data**2, minlength=X.shape[0]))
    norms[norms == 0] = 1.0
    X.data /= norms[rows]
    return X


FEATURIZERS = {"tfidf": TfidfFeaturizer}


def make_featurizer(name: str, **params) -> Featurizer:
    try:
        return FEATURIZERS[name](**params)
    except KeyError:
        raise ValueError(f"unknown featurizer {name!r}; known: {sorted(FEATURIZERS)}") from None
