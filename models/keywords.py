"""Which words drove the predicted issue types: the ``keywords`` field of a result.

For the linear backend the answer is exact: a word's contribution to a label's logit is its TF-IDF
value times the label's coefficient for that word, so the keywords are the word uni- and bigrams of
the text with the largest positive contribution to a predicted label. Other backends fall back to the
taxonomy's keyword lists matched on the normalised text (a proxy, documented as such in the README).
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp

from models.hashing import word_ngram_buckets
from models.taxonomy import Taxonomy
from models.text import normalize

MAX_KEYWORDS = 5


_LETTER = re.compile(r"[^\W\d_]")  # any letter (CJK ideographs are letters)


_HAS_LETTER: dict[str, bool] = {}
_HAS_LETTER_MAX = 200_000


def _has_letter(token: str) -> bool:
    return _LETTER.search(token) is not None


def _letter_flags(tokens: list[str]) -> list[bool]:
    """``_has_letter`` of every token; each distinct token is checked once (cached, bounded)."""
    cache = _HAS_LETTER
    distinct = set(tokens)
    new = [t for t in distinct if t not in cache]
    if new:
        if len(cache) + len(new) > _HAS_LETTER_MAX:
            cache.clear()
            new = list(distinct)
        for t in new:
            cache[t] = _has_letter(t)
    return list(map(cache.__getitem__, tokens))


def _join(a: str, b: str) -> str:
    return f"{a} {b}" if a[-1].isascii() and b[0].isascii() else a + b


def linear_keywords(tokens: list[list[str]], X: sp.csr_matrix, word_weights: np.ndarray,
                    predicted: list[list[int]], n_features: int, top: int = MAX_KEYWORDS) -> list[list[str]]:
    """Top contributing word n-grams per text.

    ``tokens`` are the texts' normalised word tokens as the featurizer produced them (no second
    tokenisation); ``word_weights`` is (n_labels, n_features): each label's coefficients over the word
    block of the feature matrix (its first ``n_features`` columns). All n-grams of the batch are hashed
    in one vectorised pass and scored in one gather; the only Python loop walks each text's best
    candidates and stops once it has ``top`` keywords.
    """
    out: list[list[str]] = [[] for _ in tokens]
    explained = [toks if predicted[i] else [] for i, toks in enumerate(tokens)]
    all_tokens = [t for toks in explained for t in toks]
    if len(all_tokens) > _HAS_LETTER_MAX:  # more distinct tokens than the cache holds: no caching
        flags = [_has_letter(t) for t in all_tokens]
    else:
        flags = _letter_flags(all_tokens)
    words: list[list[str]] = []
    at = 0
    for toks in explained:
        words.append([t for t, keep in zip(toks, flags[at : at + len(toks)], strict=True) if keep])
        at += len(toks)
    flat = [t for ws in words for t in ws]
    if not flat:
        return out
    doc_of = np.repeat(np.arange(len(words)), [len(ws) for ws in words])
    uni_buckets, bi_buckets = word_ngram_buckets(words, (1, 2), n_features)
    # unigrams of two or more characters (single characters explain nothing to a reader)
    uni_at = np.flatnonzero(np.fromiter((len(t) >= 2 for t in flat), dtype=bool, count=len(flat)))
    bi_at = np.flatnonzero(doc_of[:-1] == doc_of[1:])  # first word of each bigram inside one text
    cols = np.concatenate([uni_buckets[uni_at], bi_buckets]).astype(np.int64)
    first = np.concatenate([uni_at, bi_at])
    n_uni = len(uni_at)
    owner = doc_of[first]
    values = np.asarray(X[owner, cols]).ravel()
    mask = np.zeros((len(tokens), word_weights.shape[0]), dtype=bool)
    for i, labels in enumerate(predicted):
        mask[i, labels] = True
    weights = np.where(mask[owner], word_weights[:, cols].T, -np.inf)  # (grams, labels): predicted only
    scores = values * weights.max(axis=1)
    # by text, then best score first, ties in reading order (unigrams before bigrams)
    order = np.lexsort((np.arange(len(scores)), -scores, owner))
    bounds = np.searchsorted(owner[order], np.arange(len(tokens) + 1))
    for i in np.flatnonzero(np.diff(bounds)):
        chosen = out[i]
        for k in order[bounds[i] : bounds[i + 1]]:
            if not scores[k] > 0 or len(chosen) >= top:
                break
            at = first[k]
            g = flat[at] if k < n_uni else _join(flat[at], flat[at + 1])
            if not any(g in c or c in g for c in chosen):
                chosen.append(g)
    return out


def taxonomy_keywords(texts: list[str], predicted: list[list[int]], taxonomy: Taxonomy,
                      top: int = MAX_KEYWORDS) -> list[list[str]]:
    """Fallback: the taxonomy's keywords of the predicted labels that occur in the text."""
    patterns = [re.compile(lab.keywords) if lab.keywords else None for lab in taxonomy.issue_types]
    out = []
    for text, labels in zip(texts, predicted, strict=True):
        norm = normalize(text)
        found: dict[str, None] = {}
        for j in labels:
            if patterns[j] is not None:
                for m in patterns[j].finditer(norm):
                    found[m.group(0)] = None
        out.append(list(found)[:top])
    return out
