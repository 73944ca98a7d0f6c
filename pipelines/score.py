"""Batch scoring of a file with the champion (or any) model, streaming JSONL out in input order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from models.pyfunc import FeedbackAnalyzerModel


def _results(model: FeedbackAnalyzerModel, chunks: list[pd.DataFrame], workers: int) -> Iterator[list[dict]]:
    """Per-chunk results in input order; with ``workers`` > 1 chunks are scored in parallel processes
    (the model is sent to each worker once), which is how batch scoring uses both cores."""
    if workers <= 1:
        for chunk in chunks:
            yield model.predict_records(chunk)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    yield from parallel(delayed(model.predict_records)(chunk) for chunk in chunks)


def score_frame(
    model: FeedbackAnalyzerModel,
    frame: pd.DataFrame,
    out_path: Path,
    batch_size: int = 512,
    advance: Callable[[int], None] | None = None,
    workers: int = 1,
) -> int:
    chunks = [frame.iloc[start : start + batch_size] for start in range(0, len(frame), batch_size)]
    written = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for chunk, results in zip(chunks, _results(model, chunks, workers), strict=True):
            for result in results:
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
                written += 1
            if advance:
                advance(len(chunk))
    return written
