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
_TOKEN_CACHE: dict[object, int] = {}  # token → code (CRC-32 + 1); bounded
_SEPARATOR = object()  # stands between texts in a flat token sequence; code 0
_TOKEN_CACHE_MAX = 500_000


def _bucket(h: np.ndarray, n_features: int) -> np.ndarray:
    """Map 64-bit hashes to [0, n_features) with a multiplicative mix (n_features a power of two)."""
    shift = np.uint64(64 - int(np.log2(n_features)))
    return ((h * _MIX) >> shift).astype(np.int64)


def _ngram_keys(codes: np.ndarray, doc_of: np.ndarray, boundary: np.ndarray,
                ngram_range: tuple[int, int], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, bucket) of every n-gram occurrence over a flat sequence of item codes (``boundary``
    marks separators); duplicates are kept, one entry per occurrence."""
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
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows).astype(np.int64), np.concatenate(cols)


def count_matrix(rows: np.ndarray, cols: np.ndarray, n_docs: int, n_cols: int,
                 dtype=np.float32) -> sp.csr_matrix:
    """Canonical CSR counts (sorted indices, no duplicates) of (row, col) occurrences.

    One ``np.unique`` over ``row * n_cols + col`` sorts and counts in a single pass; scipy's
    COO → CSR → sum_duplicates route did the same work in several passes and, for the one-text
    requests of the API, cost more in Python overhead than the hashing itself.
    """
    keys = rows.astype(np.int64) * n_cols + cols
    uniq, counts = np.unique(keys, return_counts=True)
    indptr = np.searchsorted(uniq // n_cols, np.arange(n_docs + 1))
    return canonical_csr(counts.astype(dtype), uniq % n_cols, indptr, (n_docs, n_cols))


def canonical_csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A CSR matrix from arrays already sorted by (row, column) without duplicates."""
    index_dtype = np.int32 if max(shape[1], len(indices)) < 2**31 else np.int64
    m = sp.csr_matrix((data, indices.astype(index_dtype), indptr.astype(index_dtype)), shape=shape)
    m.has_sorted_indices = True
    m.has_canonical_format = True
    return m


def char_ngram_keys(texts: list[str], ngram_range: tuple[int, int], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, bucket) per character n-gram; a separator (code 0) between texts keeps n-grams inside one text."""
    joined = "\x00".join(texts) + "\x00"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    doc_of = np.repeat(np.arange(len(texts)), lengths)
    return _ngram_keys(codes, doc_of, codes == 0, ngram_range, n_features)


def char_ngram_counts(texts: list[str], ngram_range: tuple[int, int], n_features: int) -> sp.csr_matrix:
    """Character n-gram counts."""
    return count_matrix(*char_ngram_keys(texts, ngram_range, n_features), len(texts), n_features)


def _token_code(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) + 1  # 0 is the separator


def _token_codes(tokens: list) -> np.ndarray:
    """Code of every token (``_SEPARATOR`` → 0). Distinct tokens not seen before are hashed once and
    cached; every token then costs one C-level dict lookup instead of a Python call."""
    cache = _TOKEN_CACHE
    distinct = set(tokens)
    new = [t for t in distinct if t not in cache]
    if new:
        if len(distinct) >= _TOKEN_CACHE_MAX:  # a batch larger than the cache: hash without it
            return np.fromiter((0 if t is _SEPARATOR else _token_code(t) for t in tokens), dtype=np.uint64,
                               count=len(tokens))
        if len(cache) + len(new) > _TOKEN_CACHE_MAX:
            cache.clear()
            new = list(distinct)
        for t in new:
            cache[t] = 0 if t is _SEPARATOR else _token_code(t)
        cache[_SEPARATOR] = 0
    return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def word_ngram_counts(token_lists: list[list[str]], ngram_range: tuple[int, int], n_features: int) -> sp.csr_matrix:
    """Word n-gram counts from token lists."""
    return count_matrix(*word_ngram_keys(token_lists, ngram_range, n_features), len(token_lists), n_features)


def _word_codes(token_lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat salted word codes with a separator (0) after each text, the text of each code, the separators."""
    codes = _token_codes([t for toks in token_lists for t in (*toks, _SEPARATOR)])
    lengths = np.fromiter((len(t) + 1 for t in token_lists), dtype=np.int64, count=len(token_lists))
    doc_of = np.repeat(np.arange(len(token_lists)), lengths)
    # word features live in their own hash space: salt them so they never collide by design with chars
    return codes + np.uint64(1 << 40) * (codes > 0), doc_of, codes == 0


def word_ngram_keys(token_lists: list[list[str]], ngram_range: tuple[int, int],
                    n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, bucket) per word n-gram of token lists (hash of a word = CRC-32 of its UTF-8 bytes)."""
    return _ngram_keys(*_word_codes(token_lists), ngram_range, n_features)


def word_ngram_buckets(token_lists: list[list[str]], sizes: tuple[int, ...], n_features: int) -> list[np.ndarray]:
    """Per n in ``sizes``: the bucket of every word n-gram occurrence, in reading order (text by text,
    left to right), the same buckets ``word_ngram_keys`` gives; the words are hashed once for all sizes."""
    codes, doc_of, boundary = _word_codes(token_lists)
    return [_ngram_keys(codes, doc_of, boundary, (n, n), n_features)[1] for n in sizes]
