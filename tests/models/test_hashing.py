import subprocess
import sys

import numpy as np

from models.hashing import char_ngram_counts, word_ngram_counts


def test_char_ngrams_are_counted_per_text():
    m = char_ngram_counts(["abca", "", "ab"], (1, 2), 2**10).toarray()
    assert m.sum(1).tolist() == [7, 0, 3]  # 4 unigrams + 3 bigrams; nothing; 2 + 1
    assert (char_ngram_counts(["ab"], (1, 2), 2**10).toarray()[0] == char_ngram_counts(["xx", "ab"], (1, 2), 2**10).toarray()[1]).all()


def test_repeated_ngrams_add_up():
    m = char_ngram_counts(["aaa"], (1, 1), 2**10)
    assert m.nnz == 1 and m.data[0] == 3


def test_word_ngrams_stay_inside_a_text():
    m = word_ngram_counts([["电脑", "坏", "了"], ["好"]], (1, 2), 2**10).toarray()
    assert m.sum(1).tolist() == [5, 1]


def test_hashes_are_stable_across_processes():
    code = ("from models.hashing import char_ngram_counts, word_ngram_counts;"
            "print(char_ngram_counts(['快递太慢'],(1,3),2**18).indices.tolist(),"
            "word_ngram_counts([['快递','太慢']],(1,2),2**18).indices.tolist())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(runs) == 1
    here = str(char_ngram_counts(["快递太慢"], (1, 3), 2**18).indices.tolist())
    assert runs.pop().startswith(here)


def test_indices_stay_in_range():
    m = char_ngram_counts(["随便什么文字" * 20], (1, 3), 2**8)
    assert m.shape == (1, 256) and np.all(m.indices < 256)


def test_cached_token_codes_equal_direct_hashing(monkeypatch):
    import zlib

    import models.hashing as h

    lists = [["电脑", "坏", "了"], [], ["好", "电脑"], ["a", "b", "c", "d", "e", "f"]]
    flat = [t for toks in lists for t in (*toks, h._SEPARATOR)]
    direct = [0 if t is h._SEPARATOR else zlib.crc32(t.encode("utf-8")) + 1 for t in flat]
    for limit in (500_000, 6, 3):  # roomy cache, a cache that must be cleared, a batch larger than the cache
        monkeypatch.setattr(h, "_TOKEN_CACHE", {})
        monkeypatch.setattr(h, "_TOKEN_CACHE_MAX", limit)
        assert h._token_codes(flat).tolist() == direct
        assert h._token_codes(flat).tolist() == direct  # second call served from the cache
        assert len(h._TOKEN_CACHE) <= limit + 1


def test_ngram_buckets_follow_reading_order():
    from models.hashing import word_ngram_buckets

    lists = [["电脑", "坏", "了"], ["好"], [], ["物流", "慢"]]
    uni, bi = word_ngram_buckets(lists, (1, 2), 2**10)
    each = [word_ngram_counts([[t]], (1, 1), 2**10).indices[0] for toks in lists for t in toks]
    pairs = [word_ngram_counts([[a, b]], (2, 2), 2**10).indices[0] for toks in lists
             for a, b in zip(toks, toks[1:], strict=False)]
    assert uni.tolist() == each
    assert bi.tolist() == pairs
