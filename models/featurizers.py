"""Text → feature matrix. Every featurizer has ``fit``/``transform`` and is chosen by name in config,
so a new backend (sentence embeddings, a transformer) is a registry entry, not an edit of the heads."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from models.text import normalize, tokenize


class Featurizer(Protocol):
    def fit(self, texts: list[str]) -> Featurizer: ...

    def transform(self, texts: list[str]) -> sp.spmatrix | np.ndarray: ...


def _identity(tokens):
    return tokens


class TfidfFeaturizer:
    """Word n-grams (jieba-compatible tokens) + character n-grams, sublinear TF-IDF.

    Char n-grams catch misspellings and words the tokenizer splits oddly; word n-grams carry
    negation and phrases ("不能用", "没有发票"). Texts are normalised and tokenised once per call.
    """

    name = "tfidf"

    def __init__(
        self,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_features: int | None = 200_000,
    ):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.word_vec: TfidfVectorizer | None = None
        self.char_vec: TfidfVectorizer | None = None

    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        word = TfidfVectorizer(
            analyzer=_identity,
            ngram_range=(1, 1),
            min_df=self.min_df,
            sublinear_tf=True,
            max_features=self.max_features,
            dtype=np.float32,
        )
        char = TfidfVectorizer(
            analyzer="char",
            ngram_range=self.char_ngrams,
            min_df=self.min_df,
            sublinear_tf=True,
            max_features=self.max_features,
            dtype=np.float32,
        )
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

    def fit(self, texts: list[str]) -> TfidfFeaturizer:
        normalized = [normalize(t) for t in texts]
        self.word_vec, self.char_vec = self._vectorizers()
        self.word_vec.fit(self._word_ngrams(normalized))
        self.char_vec.fit(normalized)
        return self

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if self.word_vec is None or self.char_vec is None:
            raise RuntimeError("featurizer is not fitted")
        normalized = [normalize(t) for t in texts]
        words = self.word_vec.transform(self._word_ngrams(normalized))
        chars = self.char_vec.transform(normalized)
        return sp.hstack([words, chars], format="csr")


FEATURIZERS = {"tfidf": TfidfFeaturizer}


def make_featurizer(name: str, **params) -> Featurizer:
    try:
        return FEATURIZERS[name](**params)
    except KeyError:
        raise ValueError(f"unknown featurizer {name!r}; known: {sorted(FEATURIZERS)}") from None
