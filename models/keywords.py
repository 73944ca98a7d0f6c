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

from models.hashing import word_ngram_counts
from models.taxonomy import Taxonomy
from models.text import normalize, tokenize

MAX_KEYWORDS = 5


_LETTER = re.compile(r"[^\W\d_]")  # any letter (CJK ideographs are letters)


def _has_letter(token: str) -> bool:
    return _LETTER.search(token) is not None


def _join(a: str, b: str) -> str:
    return f"{a} {b}" if a[-1].isascii() and b[0].isascii() else a + b


def linear_keywords(texts: list[str], X: sp.csr_matrix, word_weights: np.ndarray,
                    predicted: list[list[int]], n_features: int, top: int = MAX_KEYWORDS) -> list[list[str]]:
    """Top contributing word n-grams per text.

    ``word_weights`` is (n_labels, n_features): each label's coefficients over the word block of the
    feature matrix (its first ``n_features`` columns). All n-grams of the batch are hashed in two
    vectorised calls and scored in one gather, so explaining a batch costs about one extra tokenisation.
    """
    uni, uni_owner, bi, bi_owner = [], [], [], []
    for i, text in enumerate(texts):
        if not predicted[i]:
            continue
        toks = [t for t in tokenize(normalize(text)) if _has_letter(t)]
        for t in toks:
            if len(t) >= 2:  # single characters explain nothing to a reader
                uni.append([t])
                uni_owner.append(i)
        for a, b in zip(toks, toks[1:], strict=False):
            bi.append([a, b])
            bi_owner.append(i)
    out: list[list[str]] = [[] for _ in texts]
    if not uni and not bi:
        return out
    cols = np.concatenate([
        word_ngram_counts(uni, (1, 1), n_features).indices if uni else np.empty(0, np.int32),
        word_ngram_counts(bi, (2, 2), n_features).indices if bi else np.empty(0, np.int32),
    ]).astype(np.int64)
    grams = [d[0] for d in uni] + [_join(*d) for d in bi]
    owner = np.asarray(uni_owner + bi_owner, dtype=np.int64)
    values = np.asarray(X[owner, cols]).ravel()
    mask = np.zeros((len(texts), word_weights.shape[0]), dtype=bool)
    for i, labels in enumerate(predicted):
        mask[i, labels] = True
    weights = np.where(mask[owner], word_weights[:, cols].T, -np.inf)  # (grams, labels): predicted only
    scores = values * weights.max(axis=1)
    for k in np.lexsort((np.arange(len(grams)), -scores)):
        if not scores[k] > 0:
            break
        chosen = out[owner[k]]
        g = grams[k]
        if len(chosen) < top and not any(g in c or c in g for c in chosen):
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
