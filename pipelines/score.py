"""Batch scoring of a file with the champion (or any) model, streaming JSONL out in input order."""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from models.pyfunc import FeedbackAnalyzerModel
from training.workers import sigterm_stops_workers

# The model a worker process scores with; set once per worker by ``_init_worker``.
_WORKER_MODEL: FeedbackAnalyzerModel | None = None


def _init_worker(model: FeedbackAnalyzerModel) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = model


def _jsonl(model: FeedbackAnalyzerModel, records: list[dict]) -> str:
    """One chunk's results as JSONL text: a worker sends back one string, not nested dicts, which
    is far cheaper to pass between processes."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in model.predict_items(records))


def _score_in_worker(records: list[dict]) -> str:
    if _WORKER_MODEL is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker has no model")
    return _jsonl(_WORKER_MODEL, records)


def _pool_context():
    """``fork`` on Linux: workers inherit the loaded model without pickling it (tens of MB) and start
    in milliseconds. Elsewhere ``spawn``, which pickles the model once per worker."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _chunks_jsonl(model: FeedbackAnalyzerModel, chunks: list[list[dict]], workers: int) -> Iterator[str]:
    """Per-chunk JSONL in input order; with ``workers`` > 1 chunks are scored in parallel processes,
    each holding the model once, which is how batch scoring uses both cores."""
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield _jsonl(model, chunk)
        return
    with sigterm_stops_workers():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_init_worker,
                                   initargs=(model,))
        try:
            yield from pool.map(_score_in_worker, chunks)  # map keeps input order
        except BaseException:
            # Ctrl-C, SIGTERM (training.workers) or the consumer giving up: a pool's own shutdown would still run
            # every queued chunk, and a parent that dies leaves its workers waiting forever; they hold nothing
            # worth saving, so they are killed
            pool.shutdown(wait=False, cancel_futures=True)
            for child in multiprocessing.active_children():
                child.kill()
            raise
        pool.shutdown()


def score_frame(
    model: FeedbackAnalyzerModel,
    frame: pd.DataFrame,
    out_path: Path,
    batch_size: int = 512,
    advance: Callable[[int], None] | None = None,
    workers: int = 1,
) -> int:
    if "text" not in frame.columns:
        raise ValueError("input needs a 'text' column")
    records = frame.to_dict("records")
    chunks = [records[start : start + batch_size] for start in range(0, len(records), batch_size)]
    written = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for chunk, lines in zip(chunks, _chunks_jsonl(model, chunks, workers), strict=True):
            out.write(lines)
            written += len(chunk)
            if advance:
                advance(len(chunk))
    return written
