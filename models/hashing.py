"""Vectorised feature hashing for character and word n-grams.

scikit-learn's HashingVectorizer walks every n-gram in Python; for short Chinese texts that walk is
most of the scoring time. Here all texts of a batch are laid out as one array of code points and the
n-gram hashes are computed with NumPy in a few passes, so featurising costs about the same for 10 or
10,000 texts per call. Hashes are stable across processes and machines (no Python ``hash``).
"""

from __future__ import annotations

import zlib

import numpy as np
import scipy.sparse as sp

_MIX = np.uint64(0x9E3779B97F4A7C15)  # 64-bit golden-ratio multiplier (Fibonacci hashing)
_STEP = np.uint64(1_000_003)
_TOKEN_CACHE: dict[str, int] = {}
_TOKEN_CACHE_MAX = 500_000


def _bucket(h: np.ndarray, n_features: int) -> np.ndarray:
    """Map 64-bit hashes to [0, n_features) with a multiplicative mix (n_features a power of two)."""
    shift = np.uint64(64 - int(np.log2(n_features)))
    return ((h * _MIX) >> shift).astype(np.int64)


def _ngram_matrix(codes: np.ndarray, doc_of: np.ndarray, boundary: np.ndarray, n_docs: int,
                  ngram_range: tuple[int, int], n_features: int) -> sp.csr_matrix:
    """Count matrix of n-grams over a flat sequence of item codes (``boundary`` marks separators)."""
    lo, hi = ngram_range
    codes = codes.astype(np.uint64)
    cut = np.concatenate([[0], np.cumsum(boundary, dtype=np.int64)])
    rows, cols = [], []
    for n in range(lo, hi + 1):
        m = len(codes) - n + 1
        if m <= 0:
            continue
        h = np.full(m, np.uint64(n), dtype=np.uint64)
        for k in range(n):
            h = h * _STEP + codes[k : k + m]
        valid = (cut[n : n + m] - cut[:m]) == 0  # no separator inside the window
        rows.append(doc_of[:m][valid])
        cols.append(_bucket(h[valid], n_features))
    if not rows:
        return sp.csr_matrix((n_docs, n_features), dtype=np.float32)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n_docs, n_features))


def char_ngram_counts(texts: list[str], ngram_range: tuple[int, int], n_features: int) -> sp.csr_matrix:
    """Character n-gram counts; a separator (code 0) between texts keeps n-grams inside one text."""
    joined = "\x00".join(texts) + "\x00"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    doc_of = np.repeat(np.arange(len(texts)), lengths)
    return _ngram_matrix(codes, doc_of, codes == 0, len(texts), ngram_range, n_features)


def _token_code(token: str) -> int:
    code = _TOKEN_CACHE.get(token)
    if code is None:
        if len(_TOKEN_CACHE) >= _TOKEN_CACHE_MAX:
            _TOKEN_CACHE.clear()
        code = _TOKEN_CACHE[token] = zlib.crc32(token.encode("utf-8")) + 1  # 0 is the separator
    return code


def word_ngram_counts(token_lists: list[list[str]], ngram_range: tuple[int, int], n_features: int) -> sp.csr_matrix:
    """Word n-gram counts from token lists (hash of a word = CRC-32 of its UTF-8 bytes)."""
    codes = np.fromiter((c for toks in token_lists for c in (*map(_token_code, toks), 0)), dtype=np.uint64)
    lengths = np.fromiter((len(t) + 1 for t in token_lists), dtype=np.int64, count=len(token_lists))
    doc_of = np.repeat(np.arange(len(token_lists)), lengths)
    # word features live in their own hash space: salt them so they never collide by design with chars
    return _ngram_matrix(codes + np.uint64(1 << 40) * (codes > 0), doc_of, codes == 0, len(token_lists),
                         ngram_range, n_features)
